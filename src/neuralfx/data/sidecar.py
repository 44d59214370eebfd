"""``output/NAME.json``: how an output was made, in one schema for ``init`` and ``data make``.

It records the canonical effect chain, the neuralfx version, each source input (path, SHA-256,
rate, output) and, where they apply, the signal seed of the built-in dataset and the knob
value of one setting of a grid. Reports use it to render the real effect next to the model;
sweeps use it to refuse a dataset folder made from another effect. Files written before the
schema held ``"effect"`` as a spec string; they still read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..audio import write_text_atomic
from ..dsp.chains import Chain, chain_from_dict, chain_to_dict, parse_chain
from ..errors import NeuralFXError
from ..version import __version__


@dataclass(frozen=True)
class Sidecar:
    name: str
    effect: dict[str, Any]  # chains.chain_to_dict: {"spec": ..., "chain": [...]}
    sources: list[dict[str, Any]] = field(default_factory=list)
    seed: int | None = None  # the built-in clean signal's seed, when init made the input
    knob: dict[str, Any] | None = None  # one setting of a `data make --knob` grid
    neuralfx_version: str = __version__

    @property
    def spec(self) -> str:
        return str(self.effect.get("spec", ""))

    def chain(self) -> Chain:
        return chain_from_dict(self.effect, where=f"output/{self.name}.json")


def sidecar_path(data_dir: str | Path, output_name: str) -> Path:
    return Path(data_dir) / "output" / f"{output_name}.json"


def make_sidecar(name: str, chain: Chain, **kw: Any) -> Sidecar:
    return Sidecar(name, chain_to_dict(chain), **kw)


def write_sidecar(data_dir: str | Path, sidecar: Sidecar) -> Path:
    record = {k: v for k, v in asdict(sidecar).items() if v is not None}
    path = sidecar_path(data_dir, sidecar.name)
    return write_text_atomic(path, json.dumps(record, indent=2) + "\n")


def read_sidecar(data_dir: str | Path, output_name: str) -> Sidecar | None:
    """The record beside an output, or None when there is none or it cannot be read.

    A missing or foreign sidecar only costs a report its target render, so it is not an error.
    """
    try:
        raw = json.loads(sidecar_path(data_dir, output_name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    effect = raw.get("effect")
    try:
        if isinstance(effect, str):  # the schema before one sidecar format
            effect = chain_to_dict(parse_chain(effect))
        if not isinstance(effect, dict):
            return None
        chain_from_dict(effect)
    except NeuralFXError:
        return None
    sources = raw.get("sources")
    if not isinstance(sources, list):
        old_input = raw.get("input")
        sources = [{"input": f"input/{old_input}"}] if isinstance(old_input, str) else []
    seed = raw.get("seed")
    knob = raw.get("knob")
    return Sidecar(
        str(raw.get("name") or output_name),
        effect,
        sources,
        seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        knob if isinstance(knob, dict) else None,
        str(raw.get("neuralfx_version", "")),
    )
