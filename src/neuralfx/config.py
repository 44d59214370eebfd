"""Typed, frozen run configuration; written as ``config.json`` next to every model.

Loading is strict: an unknown key or a wrong type is an error naming the key, so a typo in a
study file or an edited config never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError


def setting(
    default: Any,
    flag: str = "",
    help: str = "",
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
    choices: tuple[str, ...] = (),
    nullable: bool = False,
) -> Any:
    """A config field with its command-line flag, help and valid range, declared once.

    ``cli`` makes the train flags from these; ``check_ranges`` validates every config, from
    flags, config.json or a study file alike. ``lo_open``/``hi_open`` exclude the bound.
    """
    meta = {
        "flag": flag,
        "help": help,
        "lo": lo,
        "hi": hi,
        "lo_open": lo_open,
        "hi_open": hi_open,
        "choices": choices,
        "nullable": nullable,
    }
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class ModelConfig:
    name: str = setting("lstm", "--model", "architecture (see `neuralfx models`)")
    # 0: chosen by the training budget (training/sizing.py), 32 outside training
    hidden_size: int = setting(
        0, "--hidden", "hidden units (0: 16 for budgets up to 30 s, else 32)", lo=0, hi=1024
    )
    num_layers: int = setting(1, "--layers", "stacked recurrent layers (1-3)", lo=1, hi=3)
    skip: bool = setting(False, "--skip", "output = network(x) + x")
    conv_channels: int = setting(8, lo=1, hi=32)
    conv_kernel: int = setting(3, lo=2, hi=8)
    # knob inputs next to the audio (0..3); set from the dataset's knobs.csv, not by a flag
    knobs: int = setting(0, lo=0, hi=3)

    def __post_init__(self) -> None:
        check_ranges(self)


@dataclass(frozen=True)
class LossConfig:
    """ESR on pre-emphasised audio plus a DC term (Wright et al. 2020 use 0.75 / 0.25)."""

    esr_weight: float = setting(0.75, "--esr-weight", "weight of the ESR term", lo=0, hi=1e6)
    dc_weight: float = setting(0.25, "--dc-weight", "weight of the DC term", lo=0, hi=1e6)
    # first-order high-pass 1 - a z^-1; 0 disables it; None: 0.85, or 0 when the data has
    # dynamics (resolved once the data is measured, see training.dynamics)
    pre_emphasis: float | None = setting(
        None,
        "--pre-emphasis",
        "pre-emphasis coefficient (0 = off; default 0.85, or 0 for compressors and the like)",
        lo=0,
        hi=1,
        hi_open=True,
        nullable=True,
    )

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.esr_weight == 0 and self.dc_weight == 0:
            raise ConfigError(
                "esr_weight and dc_weight are both 0: the loss would be 0; "
                "give one of them a positive weight"
            )


@dataclass(frozen=True)
class TrainConfig:
    data_dir: str = "."
    run_name: str = setting("", "--run-name", "name of the run folder under DATA/runs/")
    output_name: str = setting(
        "", "--output", "which output/NAME.wav to learn when there are several"
    )
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    # data split by time, no overlap: train / validation / test fractions
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    # truncated BPTT: a warm-up without gradient, then chunks with the state carried.
    # Many small steps win at a fixed budget: 16 x 512-sample chunks at lr 2e-2 reached a
    # 10-100x lower test ESR in 40 s than 4 x 2048 at 5e-3, and 128-sample chunks first do
    # better still (training/schedule.py, bench/notes.md).
    warmup_samples: int = setting(
        1024, "--warmup", "warm-up samples without gradient", lo=0, hi=1 << 22
    )
    # short chunks first (more steps per second), doubling every 8000 steps up to --chunk
    chunk_samples: int = setting(
        512, "--chunk", "TBPTT chunk length in samples, once grown", lo=1, hi=1 << 20
    )
    chunk_start: int = setting(
        0,
        "--chunk-start",
        "TBPTT chunk length at the start (0 = 128, or --chunk on knob data; = --chunk: fixed)",
        lo=0,
        hi=1 << 20,
    )
    # 0: 16, or 64 when the output follows the input level's history (training/dynamics.py)
    chunks_per_segment: int = setting(
        0,
        "--chunks",
        "chunks per segment (0 = 16, or 64 for compressors and the like)",
        lo=0,
        hi=4096,
    )
    batch_size: int = setting(16, "--batch-size", "segments per batch", lo=1, hi=4096)
    learning_rate: float = setting(2e-2, "--lr", "Adam learning rate", lo=0, hi=10, lo_open=True)
    # "auto": with a budget, hold the rate then a cosine over its last 30 %; else halve on plateaus
    lr_schedule: str = setting(
        "auto",
        "--schedule",
        "learning-rate schedule: auto (cosine tail with --budget, else plateau), plateau, cosine",
        choices=("auto", "plateau", "cosine"),
    )
    lr_patience: int = setting(3, lo=0, hi=10000)
    lr_factor: float = setting(0.5, lo=0, hi=1, lo_open=True, hi_open=True)
    # the validated and exported model is an average of the recent weights (0 = the last step)
    weight_average: float = setting(
        0.999,
        "--average",
        "decay of the weights' moving average (0 = off)",
        lo=0,
        hi=1,
        hi_open=True,
    )
    early_stop_patience: int = setting(
        12, "--patience", "early-stopping patience in epochs", lo=1, hi=1_000_000
    )
    max_epochs: int = setting(
        1000, "--max-epochs", "stop after this many epochs", lo=1, hi=10_000_000
    )
    budget_s: float = setting(
        0.0, "--budget", "wall-clock training budget in seconds (0 = none)", lo=0, hi=3e7
    )
    # judged on the kept model's validation ESR (the record), so the model saved reaches it
    target_esr: float = setting(
        0.0, "--target-esr", "stop once a validation ESR reaches this (0 = off)", lo=0, hi=1e3
    )
    render_every: int = setting(
        50, "--render-every", "epochs between guitar.wav renders (0 = off)", lo=0, hi=1_000_000
    )
    seed: int = setting(0, "--seed", "random seed", lo=0, hi=2**32 - 1)
    device: str = setting(
        "cpu", "--device", "where to train", choices=("cpu", "cuda", "mps", "auto")
    )
    # CPU: threads sharing each batch, one core each; 0 uses every core. GPU: torch threads.
    threads: int = setting(
        0,
        "--threads",
        "CPU: batch shards, one core each (0 = every core); GPU: torch threads",
        lo=0,
        hi=1024,
    )
    # output delay to remove before training; None measures it and refuses more than a few
    # samples unless `align` is set
    latency_samples: int | None = setting(
        None,
        "--latency",
        "output delay in samples to compensate",
        lo=-1 << 20,
        hi=1 << 20,
        nullable=True,
    )
    align: bool = setting(False, "--align", "measure the output's latency and remove it")
    sample_rate_hz: int = setting(
        0,
        "--sample-rate",
        "resample every pair to this rate in memory (default: the dataset's own rate)",
        lo=0,
        hi=192000,
    )
    resample: bool = setting(False, "--resample", "the same as --sample-rate 44100")
    # knobs.csv data: ranges other than each column's min..max, and settings kept for scoring
    knob_ranges: tuple[str, ...] = setting(
        (), "--knob-range", "a knob's range as name=lo:hi, scaled to the model's 0..1 (repeat)"
    )
    holdout: tuple[str, ...] = setting(
        (),
        "--holdout",
        "leave the knob setting name=value out of training and validation; score it (repeat)",
    )
    # knob data: a teacher with a knob-set input gain fills the gaps between recorded settings
    knob_teacher: str = setting(
        "gain",
        "--knob-teacher",
        "knob data: learn between the recorded settings from a teacher with a knob-set input "
        "gain (gain), or from the recordings alone (off)",
        choices=("gain", "off"),
    )
    quiet: bool = setting(False, "--quiet", "log lines, no live display")
    # a pair its least-squares linear filter explains to an ESR of 1e-5 is that filter, set
    # into the LSTM, with no training (training/linear_start.py)
    linear_start: str = setting(
        "auto",
        "--linear-start",
        "a pair that is a linear filter: set the LSTM to it and skip training (auto), or "
        "train it from scratch (off)",
        choices=("auto", "off"),
    )
    # another model file to start from (ours, AIDA-X, RTNeural JSON, NAM LSTM); "" starts afresh
    init_model: str = setting(
        "", "--init", "start from a model file's weights, e.g. an AIDA-X capture of a similar amp"
    )
    # Sweeps keep many runs of one shared dataset apart: "" means DATA/runs and DATA.
    runs_dir: str = setting("", "--runs-dir", "parent folder of the run folder (default DATA/runs)")
    renders_dir: str = setting(
        "", "--renders-dir", "where guitar renders and the latest model.json go (default DATA)"
    )

    def __post_init__(self) -> None:
        check_ranges(self)
        check_plain_name(self.run_name, "run_name (--run-name)", allow_empty=True)
        if self.sample_rate_hz and self.sample_rate_hz < 22050:
            raise ConfigError(
                f"sample_rate_hz (--sample-rate) = {self.sample_rate_hz}: use 22050 to 192000 Hz"
            )
        if len(self.split) != 3 or abs(sum(self.split) - 1.0) > 1e-6 or min(self.split) <= 0:
            raise ConfigError(
                f"split {list(self.split)}: three positive fractions summing to 1 are needed"
            )

    def with_overrides(self, **kw: Any) -> TrainConfig:
        return dataclasses.replace(self, **kw)


def check_plain_name(name: str, what: str, allow_empty: bool = False) -> str:
    """A file or folder name the tool makes inside a folder: never a path out of it."""
    if not name and allow_empty:
        return name
    bad = (
        not name
        or name in (".", "..")
        or name.startswith(".")
        or any(c in name for c in "/\\\0:")
        or len(name) > 120
    )
    if bad:
        raise ConfigError(
            f"{what} = {name!r}: a plain name is needed (letters, digits, - _ = .; no slashes, "
            "not starting with a dot), e.g. fuzz-1"
        )
    return name


def check_ranges(cfg: Any) -> None:
    """Every field with a declared range or choice set is inside it, or a ConfigError says so."""
    for f in dataclasses.fields(cfg):
        meta, value = f.metadata, getattr(cfg, f.name)
        if not meta:
            continue
        name = f.name + (f" ({meta['flag']})" if meta.get("flag") else "")
        if value is None and meta["nullable"]:
            continue
        if meta["choices"] and value not in meta["choices"]:
            raise ConfigError(f"{name} = {value!r}: choose one of {', '.join(meta['choices'])}")
        lo, hi = meta["lo"], meta["hi"]
        if lo is None and hi is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} = {value!r}: a number is needed")
        if not math.isfinite(value):
            raise ConfigError(f"{name} = {value}: a finite number is needed")
        below = value <= lo if meta["lo_open"] else value < lo
        above = value >= hi if meta["hi_open"] else value > hi
        if below or above:
            left, right = "(" if meta["lo_open"] else "[", ")" if meta["hi_open"] else "]"
            raise ConfigError(f"{name} = {value:g}: must be in {left}{lo:g}, {hi:g}{right}")


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
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [k for k in required if k not in data]
    if missing:
        raise ConfigError(f"{where}: {missing[0]!r} is missing; it has no default")
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
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None and len(args) < len(typing.get_args(tp)):
            return None
        return _coerce(args[0], value, where) if len(args) == 1 else value
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
