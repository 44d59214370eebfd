"""A study's datasets: one folder per effect under ``STUDY_DIR/data``, made before any worker
starts so none races to create one, and reused only when made from the same effect.

A knob entry's folder holds ``data make --knob``'s grid (an output per setting, ``knobs.csv``)
and the guitar demo through the real effect at every setting (``tasks.knob_target``).
"""

from __future__ import annotations

from pathlib import Path

from ..audio import SAMPLE_RATE_HZ, info, write_bytes_atomic
from ..data.knobs import KNOBS_FILE
from ..errors import ConfigError
from . import analysis
from .effects import EffectEntry
from .spec import Study
from .tasks import TARGET_RENDER, knob_target


def make_datasets(study: Study, study_dir: Path) -> None:
    """One dataset per effect, made before any worker starts so none races to create one.

    The clean signal and guitar demo are synthesized once and copied into the other datasets.
    A dataset is reused only if it was made from the same effect and signal length.
    """
    from ..data import read_sidecar
    from ..data.builtin import init_dataset
    from ..dsp.chains import parse_chain

    first: Path | None = None
    for e in study.effects:
        root = study_dir / "data" / e.slug
        want = parse_chain(e.spec)
        if (root / "input" / "clean_signal.wav").is_file():
            _check_length(root, study.duration_s)
        if e.knob:
            make_knob_dataset(study, e, root, first)
            first = first or root
            continue
        if (root / KNOBS_FILE).is_file():
            raise ConfigError(
                f"{root}: was made with a knob grid, the study now has none for {e.name!r}; "
                "give the effect another name or delete the folder"
            )
        made = read_sidecar(root, e.slug)
        if made is not None and made.spec != want.spec:
            raise ConfigError(
                f"{root}: was made with effect {made.spec!r}, the study now says "
                f"{want.spec!r}; give the effect another name or delete the folder"
            )
        if made is not None and made.seed not in (None, study.signal_seed):
            raise ConfigError(
                f"{root}: was made with signal_seed {made.seed}, the study now "
                f"says {study.signal_seed}; delete {root.parent} or use another --out"
            )
        if made is None or not (root / "output" / f"{e.slug}.wav").is_file():
            if first is not None:
                for rel in ("input/clean_signal.wav", "guitar.wav"):
                    _copy_if_missing(first / rel, root / rel)
            init_dataset(root, e.spec, e.slug, study.signal_seed, study.duration_s, force=True)
        if not (root / TARGET_RENDER).is_file():
            rate = info(root / "guitar.wav").sample_rate_hz
            analysis.render_target(want, root / "guitar.wav", root / TARGET_RENDER, rate)
        first = first or root


def make_knob_dataset(study: Study, e: EffectEntry, root: Path, first: Path | None) -> None:
    """A knob entry's dataset (``data make --knob``'s grid, ``knobs.csv``) and the guitar
    demo through the real effect at every setting; a folder made otherwise is refused."""
    from ..data import read_sidecar
    from ..data.builtin import init_dataset
    from ..data.knobs import read_knobs
    from ..data.make import knob_grid
    from ..dsp.chains import parse_chain

    _, _, variants = knob_grid(parse_chain(e.spec), e.slug, list(e.knob))
    want = {out: chain.spec for out, chain, _ in variants}
    have = {p.stem for p in (root / "output").glob("*.json")}
    for out in sorted(have):
        made = read_sidecar(root, out)
        if out not in want or made is None or made.spec != want[out]:
            raise ConfigError(
                f"{root}: output/{out} was not made by the study's knob grid for {e.name!r} "
                f"({', '.join(e.knob)}); give the effect another name or delete the folder"
            )
    if set(want) - have or not (root / KNOBS_FILE).is_file():
        if first is not None:
            for rel in ("input/clean_signal.wav", "guitar.wav"):
                _copy_if_missing(first / rel, root / rel)
        init_dataset(
            root, e.spec, e.slug, study.signal_seed, study.duration_s, True, knobs=list(e.knob)
        )
    table = read_knobs(root)
    rate = info(root / "guitar.wav").sample_rate_hz
    for out in table.settings:
        target = knob_target(root, table.label(out))
        chain = analysis.setting_chain(root, out)
        if chain is not None and not target.is_file():
            analysis.render_target(chain, root / "guitar.wav", target, rate)


def _check_length(root: Path, duration_s: float) -> None:
    have_s = info(root / "input" / "clean_signal.wav").duration_s
    if abs(have_s - duration_s) > 1.0 / SAMPLE_RATE_HZ * 10:
        raise ConfigError(
            f"{root}: its clean signal is {have_s:g} s, the study now asks for "
            f"{duration_s:g} s; delete {root.parent} or sweep into another --out"
        )


def _copy_if_missing(src: Path, dest: Path) -> None:
    if dest.exists():
        return
    write_bytes_atomic(dest, src.read_bytes())
