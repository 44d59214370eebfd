"""Typed, frozen run configuration; written as ``config.json`` next to every model.

Loading is strict: an unknown key or a wrong type is an error naming the key, so a typo in a
study file or an edited config never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError


@dataclass(frozen=True)
class ModelConfig:
    name: str = "lstm"  # a key of models.REGISTRY
    hidden_size: int = 32
    num_layers: int = 1
    skip: bool = False  # output = network(x) + x
    conv_channels: int = 8
    conv_kernel: int = 3


@dataclass(frozen=True)
class LossConfig:
    """ESR on pre-emphasised audio plus a DC term (Wright et al. 2020 use 0.75 / 0.25)."""

    esr_weight: float = 0.75
    dc_weight: float = 0.25
    pre_emphasis: float = 0.85  # first-order high-pass 1 - a z^-1; 0 disables it


@dataclass(frozen=True)
class TrainConfig:
    data_dir: str = "."
    run_name: str = ""  # empty: a timestamped name is chosen
    output_name: str = ""  # which output/<name>.wav to learn when there are several
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    # data split by time, no overlap: train / validation / test fractions
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    # truncated BPTT: a warm-up without gradient, then chunks with the state carried.
    # Many small steps win at a fixed budget: 16 x 512-sample chunks at lr 2e-2 reached a
    # 10-100x lower test ESR in 40 s than 4 x 2048 at 5e-3 (bench/RESULTS.md, notes).
    warmup_samples: int = 1024
    chunk_samples: int = 512
    chunks_per_segment: int = 16
    batch_size: int = 16
    learning_rate: float = 2e-2
    lr_patience: int = 3
    lr_factor: float = 0.5
    early_stop_patience: int = 12
    max_epochs: int = 1000
    budget_s: float = 0.0  # wall-clock training budget; 0 means none
    render_every: int = 50  # epochs between renders of guitar.wav; 0 disables
    seed: int = 0
    device: str = "cpu"  # cpu | cuda | mps | auto
    # CPU: threads sharing each batch, one core each; 0 uses every core. GPU: torch threads.
    threads: int = 0
    # output delay to remove before training; None measures it and refuses more than a few
    # samples unless `align` is set
    latency_samples: int | None = None
    align: bool = False  # remove the measured latency
    resample: bool = False  # convert other sample rates to 44.1 kHz in memory
    quiet: bool = False
    # Sweeps keep many runs of one shared dataset apart: "" means DATA/runs and DATA.
    runs_dir: str = ""  # parent folder of the run folder
    renders_dir: str = ""  # where guitar renders and the latest model.json copy go

    def with_overrides(self, **kw: Any) -> TrainConfig:
        return dataclasses.replace(self, **kw)


def to_dict(cfg: Any) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def to_json(cfg: Any) -> str:
    return json.dumps(to_dict(cfg), indent=2, sort_keys=True) + "\n"


def from_dict(cls: type, data: Any, where: str = "config") -> Any:
    """Build a (nested) config dataclass from plain data; unknown keys and bad types fail."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table of settings, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; valid keys are: {', '.join(sorted(names))}"
        )
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str) -> Any:
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    origin = typing.get_origin(tp)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{where}: expected a list, got {value!r}")
            return tuple(_coerce(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ConfigError(f"{where}: expected a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(a, v, where) for a, v in zip(args, value))
    if origin in (typing.Union, types.UnionType):
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


def load_config(path: str | Path) -> TrainConfig:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return from_dict(TrainConfig, data, str(path))
