"""Built-in datasets: the synthesized clean signal, an effect's output and the guitar demo."""

from __future__ import annotations

import math
from pathlib import Path

from ..audio import SAMPLE_RATE_HZ, info, read_wav, write_wav
from ..config import check_plain_name
from ..errors import ConfigError, DatasetError
from .sidecar import make_sidecar, write_sidecar

CLEAN_NAME = "clean_signal"
MAX_SIGNAL_S = 3600.0  # an hour of synthesized signal takes minutes; more is a typo


def init_dataset(
    data_dir: str | Path,
    effect: str = "softclip",
    name: str = "",
    seed: int = 0,
    duration_s: float = 180.0,
    force: bool = False,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    knobs: list[str] | None = None,
) -> dict[str, Path]:
    """Create ``DATA/input/clean_signal.wav``, ``DATA/output/<name>.wav`` and ``DATA/guitar.wav``.

    An existing clean input is reused, never rewritten (it is the user's input from then on);
    an existing output is only replaced with ``force``. With ``knobs`` (``drive_db=0:30:5``)
    it renders the grid of settings instead, as ``data make --knob`` does, with ``knobs.csv``.
    """
    from ..dsp.chains import parse_chain
    from ..dsp.signals import clean_signal, guitar_riff

    root = Path(data_dir)
    if not 1.0 <= duration_s <= MAX_SIGNAL_S or not math.isfinite(duration_s):
        raise ConfigError(
            f"--duration {duration_s:g}: the clean signal can be 1 to {MAX_SIGNAL_S:g} s long"
        )
    if not 22050 <= sample_rate_hz <= 192000:
        raise ConfigError(f"--sample-rate {sample_rate_hz}: use 22050 to 192000 Hz")
    chain = parse_chain(effect)
    name = check_plain_name(name or slug(effect), "--name")
    clean_path = root / "input" / f"{CLEAN_NAME}.wav"
    out_path = root / "output" / f"{name}.wav"
    if out_path.exists() and not force:
        raise DatasetError(
            f"{out_path}: already exists; pass --force to replace it "
            "or --name to make another output"
        )
    if clean_path.exists():
        # the existing input is the user's from then on: its rate wins over --sample-rate
        clean = read_wav(clean_path, expected_rate_hz=None)
        sample_rate_hz = info(clean_path).sample_rate_hz
    else:
        clean = clean_signal(seed=seed, duration_s=duration_s, sample_rate_hz=sample_rate_hz)
        write_wav(clean_path, clean, sample_rate_hz)
    if knobs:
        from .make import make_outputs

        made = make_outputs(root, effect, name, force, knobs)
        out_path = root / "knobs.csv" if made[-1].name == "knobs.csv" else made[0]
    else:
        write_wav(out_path, chain(clean, sample_rate_hz), sample_rate_hz)
        source = {"input": f"input/{clean_path.name}", "output": f"output/{out_path.name}"}
        write_sidecar(root, make_sidecar(name, chain, sources=[source], seed=seed))
    guitar_path = root / "guitar.wav"
    if not guitar_path.exists():
        write_wav(
            guitar_path, guitar_riff(seed=seed + 1, sample_rate_hz=sample_rate_hz), sample_rate_hz
        )
    return {"input": clean_path, "output": out_path, "guitar": guitar_path}


def slug(spec: str) -> str:
    keep = "".join(c if c.isalnum() or c in "_-=." else "_" for c in spec.strip())
    return "_".join(filter(None, keep.split("_")))[:80] or "effect"
