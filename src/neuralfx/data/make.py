"""``neuralfx data make``: render DATA/output from every clean input through an effect chain.

With one input the output is ``output/NAME.wav``; with several, ``output/NAME/X.wav`` for each
``input/X.wav``, which ``pairs.find_pairs`` pairs when training with ``--output NAME``.
``output/NAME.json`` records the canonical chain, the neuralfx version and each source file
with its SHA-256, so the dataset can be re-rendered exactly. A knob renders one output per
value (a grid of every combination for up to three knobs), named ``NAME_drive_db=15``; each
JSON records the setting, and ``DATA/knobs.csv`` gets one row per output for training one
model over every setting.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import info, read_wav, write_wav
from ..config import check_plain_name
from ..dsp.catalogue import CATALOGUE
from ..dsp.chains import Chain, load_chain, make_stage
from ..errors import DatasetError, EffectError
from .builtin import slug
from .knobs import MAX_KNOBS, merge_knobs
from .pairs import list_wavs
from .sidecar import make_sidecar, write_sidecar


@dataclass(frozen=True)
class Knob:
    """One parameter of one stage swept over values: ``[effect.]param=start:stop:count``."""

    stage: int
    param: str
    values: tuple[float, ...]

    def apply(self, chain: Chain, value: float) -> Chain:
        s = chain.stages[self.stage]
        stages = list(chain.stages)
        stages[self.stage] = make_stage(s.name, {**s.kwargs, self.param: value})
        return Chain(tuple(stages))


def _units(chain: Chain, knobs: list[Knob]) -> list[str]:
    """Each knob's unit from the catalogue ("" for a plugin's or a plain number)."""
    units = []
    for k in knobs:
        spec = CATALOGUE.get(chain.stages[k.stage].name)
        units.append(next((p.unit for p in spec.params if p.name == k.param), "") if spec else "")
    return units


def parse_knob(text: str, chain: Chain) -> Knob:
    """``drive_db=0:30:7`` (7 values from 0 to 30), ``drive_db=0,12,24`` or ``softclip.drive_db=..``."""
    key, sep, spec = text.partition("=")
    if not sep or not key.strip() or not spec.strip():
        raise EffectError(f"--knob {text!r}: write param=start:stop:count, e.g. drive_db=0:30:7")
    effect, _, param = key.strip().rpartition(".")
    found = [
        i
        for i, s in enumerate(chain.stages)
        if param in s.kwargs and (not effect or s.name == effect)
    ]
    if not found and any(s.is_plugin for s in chain.stages):
        found = [i for i, s in enumerate(chain.stages) if s.is_plugin]
    if len(found) != 1:
        params = sorted({f"{s.name}.{k}" for s in chain.stages for k in s.kwargs})
        what = "matches several stages" if found else "matches no parameter of the chain"
        raise EffectError(f"--knob {key.strip()!r} {what}; valid: {', '.join(params)}")
    try:
        if ":" in spec:
            start, stop, count = spec.split(":")
            values = np.linspace(float(start), float(stop), int(count)).tolist()
        else:
            values = [float(v) for v in spec.split(",")]
    except ValueError:
        raise EffectError(
            f"--knob {text!r}: values must be start:stop:count or a comma "
            "list of numbers, e.g. drive_db=0:30:7"
        ) from None
    if not values or len(values) > 101:
        raise EffectError(f"--knob {text!r}: between 1 and 101 values are allowed")
    knob = Knob(found[0], param, tuple(float(v) for v in values))
    for v in knob.values:  # range and type errors now, before anything is rendered
        knob.apply(chain, v)
    return knob


def knob_grid(
    chain: Chain, name: str, knob: str | list[str] | None
) -> tuple[list[Knob], list[str], list[tuple[str, Chain, tuple[float, ...]]]]:
    """The knobs, their knobs.csv names and every (output name, chain, values) of the grid;
    without knobs, the one output ``name``. Sweeps use it to check a dataset they reuse."""
    texts = [knob] if isinstance(knob, str) else list(knob or [])
    if len(texts) > MAX_KNOBS:
        raise EffectError(f"--knob given {len(texts)} times; at most {MAX_KNOBS} knobs")
    knobs = [parse_knob(t, chain) for t in texts]
    names = [k.param for k in knobs]
    if len(set(names)) < len(names):
        names = [f"{chain.stages[k.stage].name}.{k.param}" for k in knobs]
    variants = []
    for values in itertools.product(*(k.values for k in knobs)):
        variant = chain
        for k, v in zip(knobs, values):
            variant = k.apply(variant, v)
        label = "_".join(f"{k.param}={v:g}" for k, v in zip(knobs, values))
        variants.append((f"{name}_{label}" if knobs else name, variant, tuple(values)))
    return knobs, names, variants


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def make_outputs(
    data_dir: str | os.PathLike,
    effect: str | os.PathLike,
    name: str = "",
    force: bool = False,
    knob: str | list[str] | None = None,
) -> list[Path]:
    """Render every ``input/*.wav`` through ``effect``; returns the wav and json paths written.

    Refuses to replace an existing output (or its json) unless ``force``. Inputs are rendered
    at their own sample rate, so a 48 kHz input gives a 48 kHz output (``data check`` says so).
    """
    root = Path(data_dir)
    inputs = list_wavs(root / "input")
    chain = load_chain(effect)
    text = os.fspath(effect)
    name = name or slug(Path(text).stem if text.lower().endswith((".json", ".toml")) else text)
    check_plain_name(name, "--name")
    knobs, names, variants = knob_grid(chain, name, knob)
    single = len(inputs) == 1

    def target(out: str, x: Path) -> Path:
        return root / "output" / (f"{out}.wav" if single else f"{out}/{x.stem}.wav")

    for out, _, _ in variants:
        for p in [target(out, x) for x in inputs] + [root / "output" / f"{out}.json"]:
            if p.exists() and not force:
                raise DatasetError(
                    f"{p}: already exists; pass --force to replace it or "
                    "--name to make another output"
                )
    audio = [(x, read_wav(x, expected_rate_hz=None), info(x).sample_rate_hz) for x in inputs]
    sources = [
        {"input": f"input/{x.name}", "sha256": _sha256(x), "sample_rate_hz": rate}
        for x, _, rate in audio
    ]
    written: list[Path] = []
    rows: list[tuple[str, list[float]]] = []
    for out, variant, value in variants:
        outputs = []
        for x, samples, rate in audio:
            written.append(write_wav(target(out, x), variant(samples, rate), rate))
            outputs.append(target(out, x).relative_to(root).as_posix())
        knob_record = None
        if knobs:
            knob_record = {
                "settings": dict(zip(names, value)),
                "outputs": [v[0] for v in variants],
            }
            if len(knobs) == 1:  # the one-knob record as it always was
                k = knobs[0]
                knob_record.update(
                    effect=variant.stages[k.stage].name,
                    stage=k.stage,
                    param=k.param,
                    value=value[0],
                    values=list(k.values),
                )
            rows += [(o.removeprefix("output/"), list(value)) for o in outputs]
        sidecar = make_sidecar(
            out,
            variant,
            sources=[{**s, "output": o} for s, o in zip(sources, outputs)],
            knob=knob_record,
        )
        written.append(write_sidecar(root, sidecar))
    if knobs:
        header = [f"{n}[{u}]" if u else n for n, u in zip(names, _units(chain, knobs))]
        written.append(merge_knobs(root, header, rows))
    return written
