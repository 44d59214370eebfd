"""Study files: a TOML grid of effects x models x sizes x layers x losses x seeds.

The grid is the product of the lists, minus the points an ``[[exclude]]`` rule matches::

    output_dir = "lab-study"        # relative to the current folder; --out overrides it
    budget_s = 120                  # training seconds per run
    duration_s = 180                # length of the built-in clean signal
    effects = [
        "softclip",
        {name = "hp-fuzz", spec = "highpass(cutoff_hz=100) | fuzz"},
        # a knob grid: one conditioned model per cell, over every setting (see effects.py)
        {name = "drive", spec = "softclip", knob = "drive_db=0:24:4", holdout = "drive_db=16"},
    ]
    models = ["lstm", "gru"]
    hidden_sizes = [8, 16]
    seeds = [0]

    [[losses]]                      # optional; one variant with LossConfig defaults otherwise
    name = "esr"
    dc_weight = 0.0

    [[exclude]]                     # every key given must match; a list matches any value
    model = "gru"
    hidden = 8

    [train]                         # other TrainConfig settings shared by every run
    batch_size = 32

Loading is strict like ``config.json``: an unknown key or a bad value is a ConfigError naming it.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from ..config import LossConfig, ModelConfig, TrainConfig, from_dict
from ..data.builtin import MAX_SIGNAL_S
from ..errors import ConfigError
from .effects import EffectEntry, effect_tables, named_effects, slug

DEFAULT_LOSS = "default"
MAX_GRID_POINTS = 10_000  # a week of 1-minute runs on 2 cores; more is a typo
# TrainConfig fields the grid or the sweep decide; a [train] table may set any other.
_GRID_KEYS = {
    "data_dir",
    "run_name",
    "output_name",
    "model",
    "loss",
    "seed",
    "budget_s",
    "max_epochs",
    "threads",
    "runs_dir",
    "holdout",
    "renders_dir",
    "quiet",
}


@dataclass(frozen=True)
class LossVariant:
    name: str
    loss: LossConfig


@dataclass(frozen=True)
class ExcludeRule:
    """Drops the grid points that match every key given (empty keys match anything)."""

    effect: tuple[str, ...] = ()
    model: tuple[str, ...] = ()
    hidden: tuple[int, ...] = ()
    layers: tuple[int, ...] = ()
    loss: tuple[str, ...] = ()
    seed: tuple[int, ...] = ()


@dataclass(frozen=True)
class Study:
    effects: tuple[EffectEntry, ...] = ()
    models: tuple[str, ...] = ("lstm",)
    hidden_sizes: tuple[int, ...] = (16,)
    layers: tuple[int, ...] = (1,)
    losses: tuple[LossVariant, ...] = (LossVariant(DEFAULT_LOSS, LossConfig()),)
    seeds: tuple[int, ...] = (0,)
    budget_s: float = 120.0
    max_epochs: int = 1000
    duration_s: float = 180.0
    signal_seed: int = 0  # seed of the clean signal and the guitar demo
    threads: int = 1  # torch threads per run
    output_dir: str = ""  # "" means <study file stem>-study
    exclude: tuple[ExcludeRule, ...] = ()
    train: tuple[tuple[str, Any], ...] = ()  # the [train] table, checked against TrainConfig


@dataclass(frozen=True)
class Point:
    """One run of the grid."""

    effect: EffectEntry
    model: str
    hidden: int
    layers: int
    loss: LossVariant
    seed: int

    @property
    def config_label(self) -> str:
        return config_label(self.model, self.hidden, self.layers, self.loss.name)

    @property
    def run_id(self) -> str:
        """Deterministic from the point alone, so adding grid values never renames a run."""
        loss = "" if self.loss.name == DEFAULT_LOSS else f"-{slug(self.loss.name)}"
        layers = f"x{self.layers}" if self.layers > 1 else ""
        return f"{self.effect.slug}-{self.model}{self.hidden}{layers}{loss}-s{self.seed}"

    def matches(self, rule: ExcludeRule) -> bool:
        values = {
            "effect": self.effect.name,
            "model": self.model,
            "hidden": self.hidden,
            "layers": self.layers,
            "loss": self.loss.name,
            "seed": self.seed,
        }
        return all(not getattr(rule, k) or v in getattr(rule, k) for k, v in values.items())


def config_label(model: str, hidden: int, layers: int, loss: str = DEFAULT_LOSS) -> str:
    """The model configuration without the effect and seed: a heatmap column."""
    label = f"{model}{hidden}" + (f"x{layers}" if layers > 1 else "")
    return label if loss == DEFAULT_LOSS else f"{label} {loss}"


def load_study(path: str | Path) -> Study:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such study file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_study(data, f"{path}: study")


def parse_study(data: dict[str, Any], where: str = "study") -> Study:
    data = dict(data)
    losses = data.pop("losses", None)
    train = data.pop("train", None)
    if isinstance(data.get("effects"), list):
        data["effects"] = effect_tables(data["effects"])
    if isinstance(data.get("exclude"), list):
        data["exclude"] = [
            {k: v if isinstance(v, list) else [v] for k, v in r.items()}
            if isinstance(r, dict)
            else r
            for r in data["exclude"]
        ]
    study = from_dict(Study, data, where)
    study = dataclasses.replace(
        study,
        effects=named_effects(study.effects, where),
        losses=_losses(losses, where),
        train=_train(train, where),
    )
    _check(study, where)
    return study


def _losses(raw: Any, where: str) -> tuple[LossVariant, ...]:
    if raw is None:
        return Study.losses
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}.losses: expected a non-empty list of [[losses]] tables")
    variants = []
    for i, table in enumerate(raw):
        w = f"{where}.losses[{i}]"
        if not isinstance(table, dict):
            raise ConfigError(f"{w}: expected a table of loss settings, got {table!r}")
        table = dict(table)
        name = table.pop("name", DEFAULT_LOSS if len(raw) == 1 else None)
        if not isinstance(name, str) or not slug(name):
            raise ConfigError(f"{w}.name: each of several loss variants needs a name")
        variants.append(LossVariant(name, from_dict(LossConfig, table, w)))
    names = [v.name for v in variants]
    if len(set(names)) < len(names):
        raise ConfigError(f"{where}.losses: two variants are named {names[0]!r}; rename one")
    return tuple(variants)


def _train(raw: Any, where: str) -> tuple[tuple[str, Any], ...]:
    if raw is None:
        return ()
    checked = from_dict(TrainConfig, raw, f"{where}.train")  # unknown keys and bad types
    for key in raw:
        if key in _GRID_KEYS:
            raise ConfigError(f"{where}.train.{key}: set by the study itself, not by [train]")
    return tuple((k, getattr(checked, k)) for k in sorted(raw))


def _check(study: Study, where: str) -> None:
    from ..models import REGISTRY, RTNEURAL_HIDDEN_SIZES

    for key in ("models", "hidden_sizes", "layers", "seeds"):
        values = getattr(study, key)
        if not values:
            raise ConfigError(f"{where}.{key}: empty; list at least one value")
        twice = sorted({v for v in values if values.count(v) > 1}, key=str)
        if twice:
            # the same grid point twice would train one run folder twice at once
            raise ConfigError(f"{where}.{key}: {twice[0]!r} is listed twice; list it once")
    size = (
        len(study.effects)
        * len(study.models)
        * len(study.hidden_sizes)
        * len(study.layers)
        * len(study.losses)
        * len(study.seeds)
    )
    if size > MAX_GRID_POINTS:
        raise ConfigError(
            f"{where}: the grid has {size:,} points; at most {MAX_GRID_POINTS:,} are allowed "
            "(split the study, or list fewer values)"
        )
    for i, m in enumerate(study.models):
        if m not in REGISTRY:
            raise ConfigError(
                f"{where}.models[{i}]: unknown model {m!r}; choose from {', '.join(REGISTRY)}"
            )
    for i, h in enumerate(study.hidden_sizes):
        if h not in RTNEURAL_HIDDEN_SIZES:
            raise ConfigError(
                f"{where}.hidden_sizes[{i}]: {h} is not an RTNeural size; "
                f"choose from {', '.join(map(str, RTNEURAL_HIDDEN_SIZES))}"
            )
    for i, n in enumerate(study.layers):
        if not 1 <= n <= 3:
            raise ConfigError(f"{where}.layers[{i}]: {n}; neuralfx exports 1 to 3 layers")
    for key, ok, need in (
        ("budget_s", study.budget_s >= 0, "0 (no budget) or more"),
        ("max_epochs", study.max_epochs >= 1, "at least 1"),
        ("duration_s", 2 <= study.duration_s <= MAX_SIGNAL_S, f"2 to {MAX_SIGNAL_S:g} seconds"),
        ("threads", study.threads >= 1, "at least 1"),
    ):
        if not ok:
            raise ConfigError(f"{where}.{key}: {getattr(study, key)}; use {need}")
    if study.budget_s == 0 and study.max_epochs >= 1000:
        raise ConfigError(
            f"{where}.budget_s: 0 (none) with max_epochs {study.max_epochs} "
            "could run for days; set a budget or fewer epochs"
        )
    axes = {
        "effect": [e.name for e in study.effects],
        "model": study.models,
        "hidden": study.hidden_sizes,
        "layers": study.layers,
        "loss": [v.name for v in study.losses],
        "seed": study.seeds,
    }
    for i, rule in enumerate(study.exclude):
        for key, values in axes.items():
            stray = [v for v in getattr(rule, key) if v not in values]
            if stray:
                raise ConfigError(
                    f"{where}.exclude[{i}].{key}: {stray[0]!r} is not in the "
                    f"study's values ({', '.join(map(str, values))})"
                )
    if not grid(study):
        raise ConfigError(f"{where}.exclude: the rules drop every point of the grid")


def grid(study: Study) -> list[Point]:
    """Effects vary slowest and seeds fastest, so runs of one effect finish together."""
    points = [
        Point(e, m, h, n, v, s)
        for e, m, h, n, v, s in itertools.product(
            study.effects, study.models, study.hidden_sizes, study.layers, study.losses, study.seeds
        )
    ]
    return [p for p in points if not any(p.matches(r) for r in study.exclude)]


def train_config(study: Study, point: Point, study_dir: Path) -> TrainConfig:
    """The one TrainConfig of a grid point; every path is absolute so any worker can use it."""
    study_dir = Path(study_dir).resolve()
    run_dir = study_dir / "runs" / point.run_id
    base = TrainConfig(render_every=0)  # the sweep renders the guitar once, from the best model
    return dataclasses.replace(
        base,
        **dict(study.train),
        data_dir=str(study_dir / "data" / point.effect.slug),
        # a knob dataset trains on every setting in knobs.csv, so no one output is named
        output_name="" if point.effect.knob else point.effect.slug,
        holdout=point.effect.holdout,
        run_name=point.run_id,
        runs_dir=str(run_dir.parent),
        renders_dir=str(run_dir),
        model=ModelConfig(
            name=point.model,
            hidden_size=point.hidden,
            num_layers=point.layers,
            knobs=len(point.effect.knob),  # one input per knob of the grid, as training sets
        ),
        loss=point.loss.loss,
        seed=point.seed,
        budget_s=study.budget_s,
        max_epochs=study.max_epochs,
        threads=study.threads,
        quiet=True,
    )


def output_dir(study: Study, study_path: str | Path) -> Path:
    return Path(study.output_dir or f"{Path(study_path).stem}-study")
