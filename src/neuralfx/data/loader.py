"""The one dataset loader: folder -> checked, aligned pairs -> train / validation / test blocks.

Training, the per-run analysis, the report, sweeps, benchmarks and tests all call
:func:`load_dataset` (or :func:`dataset_for`, its form for a run's config), so they see the
same samples: the same pairs, resampling, latency removal, trimming and split. The split is by
time inside each pair, with no overlap, so the test ESR is measured on audio the model never
trained or validated on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..audio import SAMPLE_RATE_HZ
from ..config import TrainConfig
from ..errors import DatasetError
from .check import DatasetReport, check_dataset
from .knobs import Knob, KnobTable, parse_holdout, parse_knob_range, with_knobs


@dataclass(frozen=True)
class Setting:
    """One knob setting of a conditioned dataset: its blocks, each scored from a zero state."""

    output: str  # its knobs.csv row (a path relative to output/)
    label: str  # drive=5,tone=3
    values: tuple[float, ...]  # in the knobs' own units
    holdout: bool  # left out of training and validation (--holdout)
    train: tuple[int, int]  # its samples in Split.train_x; (0, 0) when held out
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


@dataclass
class Split:
    """Aligned float32 arrays for each part of the split.

    ``x`` is the model's input: mono audio ``(time,)``, or for knob data ``(time, 1 + N)``
    with each knob's scaled value next to every sample. The parts then join the settings that
    train (held-out ones only in ``settings``), and ``settings`` holds each on its own.
    """

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    sample_rate_hz: int = 44100
    knobs: tuple[Knob, ...] = ()
    settings: tuple[Setting, ...] = ()

    @property
    def seen(self) -> list[Setting]:
        return [s for s in self.settings if not s.holdout]

    @property
    def train_bounds(self) -> list[tuple[int, int]]:
        """Where segments may be drawn: each training setting's samples, or the whole block."""
        return [s.train for s in self.seen] or [(0, len(self.train_x))]


@dataclass
class Dataset:
    """A loaded dataset: its split, the checks' report (warnings, latency) and its rate."""

    split: Split
    report: DatasetReport
    warnings: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.split.name

    @property
    def sample_rate_hz(self) -> int:
        return self.split.sample_rate_hz

    @property
    def latency_samples(self) -> int:
        """The output delay removed from every pair (the first pair's, as they agree)."""
        return self.report.pairs[0].shift_samples


def split_pairs(
    arrays: list[tuple[np.ndarray, np.ndarray]],
    fractions: tuple[float, float, float],
    name: str,
    min_train_samples: int,
    min_eval_samples: int,
    sample_rate_hz: int = 44100,
) -> Split:
    """Cut each pair by time into consecutive blocks and join the blocks of each part."""
    if abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) <= 0:
        raise DatasetError(f"split {fractions}: three positive fractions summing to 1 are needed")
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("tx", "ty", "vx", "vy", "ex", "ey")}
    for x, y in arrays:
        n = len(x)
        a = int(n * fractions[0])
        b = int(n * (fractions[0] + fractions[1]))
        for (kx, ky), (lo, hi) in zip(
            (("tx", "ty"), ("vx", "vy"), ("ex", "ey")), ((0, a), (a, b), (b, n))
        ):
            parts[kx].append(x[lo:hi])
            parts[ky].append(y[lo:hi])
    cat = {k: np.concatenate(v).astype(np.float32) for k, v in parts.items()}
    total = sum(len(x) for x, _ in arrays)
    if len(cat["tx"]) < min_train_samples or min(len(cat["vx"]), len(cat["ex"])) < min_eval_samples:
        need_s = (min_train_samples / fractions[0]) / sample_rate_hz
        raise DatasetError(
            f"{name}: {total / sample_rate_hz:.2f} s of audio is too short to train "
            f"(at least {need_s:.2f} s is needed for one segment); record more audio or "
            "lower --chunk/--warmup"
        )
    for part, ky in (("training", "ty"), ("validation", "vy"), ("test", "ey")):
        if float(np.max(np.abs(cat[ky]))) < 1e-6:
            raise DatasetError(
                f"{name}: the output is silent over the whole {part} block; the model would "
                "have nothing to learn or to be scored on: check the recording"
            )
    return Split(
        name, cat["tx"], cat["ty"], cat["vx"], cat["vy"], cat["ex"], cat["ey"], sample_rate_hz
    )


def load_dataset(
    data_dir: str | Path,
    output_name: str = "",
    *,
    sample_rate_hz: int = 0,
    align: bool = False,
    latency_samples: int | None = None,
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
    min_train_samples: int = 0,
    min_eval_samples: int = 1,
    knob_ranges: tuple[str, ...] = (),
    holdout: tuple[str, ...] = (),
) -> Dataset:
    """Check every pair (raising the first problem as one line) and split the corrected audio.

    ``sample_rate_hz`` 0 keeps the dataset's own rate; ``latency_samples`` None measures each
    output's delay (see ``check.check_dataset``). A dataset with ``knobs.csv`` loads every
    setting (``knob_ranges``: ``name=lo:hi`` overrides; ``holdout``: ``name=value`` settings
    kept out of training and validation).
    """
    ranges = dict((n, (lo, hi)) for n, lo, hi in map(parse_knob_range, knob_ranges))
    report = check_dataset(
        data_dir, output_name, sample_rate_hz, align, latency_samples, knob_ranges=ranges
    )
    args = (fractions, report.name, min_train_samples, min_eval_samples, report.sample_rate_hz)
    if report.knobs is None:
        if holdout:
            raise DatasetError(
                f"--holdout {holdout[0]}: {report.data_dir} has no knobs.csv, so no settings "
                "to hold out"
            )
        return Dataset(split_pairs(report.arrays, *args), report, report.all_warnings)
    split = split_settings(report, report.knobs, holdout, *args)
    return Dataset(split, report, report.all_warnings)


def split_settings(
    report: DatasetReport,
    table: KnobTable,
    holdout: tuple[str, ...],
    fractions: tuple[float, float, float],
    name: str,
    min_train_samples: int,
    min_eval_samples: int,
    sample_rate_hz: int,
) -> Split:
    """Split each setting by time like a pair of its own, then join the settings that train.

    Each setting's segments stay inside it (no segment hears two settings); the held-out
    ones keep only their blocks, for scoring.
    """
    held = set().union(*(parse_holdout(h, table) for h in holdout)) if holdout else set()
    if len(held) == len(table.settings):
        raise DatasetError(
            f"--holdout {' '.join(holdout)}: holds out every setting of {table.path}; "
            "leave at least one to train on"
        )
    settings, parts = [], {k: [] for k in ("tx", "ty", "vx", "vy", "ex", "ey")}
    at = 0
    for out, (x, y) in report.arrays_by_output():
        knob_x = with_knobs(x, table.scaled(out))
        label = table.label(out)
        one = split_pairs(
            [(knob_x, y)],
            fractions,
            f"{name} at {label}",
            min_train_samples,
            min_eval_samples,
            sample_rate_hz,
        )
        is_held = out in held
        span = (0, 0) if is_held else (at, at + len(one.train_x))
        settings.append(
            Setting(
                out,
                label,
                table.settings[out],
                is_held,
                span,
                one.val_x,
                one.val_y,
                one.test_x,
                one.test_y,
            )
        )
        if not is_held:
            at = span[1]
            for k, v in zip(
                parts, (one.train_x, one.train_y, one.val_x, one.val_y, one.test_x, one.test_y)
            ):
                parts[k].append(v)
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    return Split(
        name,
        cat["tx"],
        cat["ty"],
        cat["vx"],
        cat["vy"],
        cat["ex"],
        cat["ey"],
        sample_rate_hz,
        table.knobs,
        tuple(settings),
    )


def dataset_for(cfg: TrainConfig, min_train_samples: int = 0, min_eval_samples: int = 1) -> Dataset:
    """The dataset exactly as the run with config ``cfg`` trained on it."""
    return load_dataset(
        cfg.data_dir,
        cfg.output_name,
        sample_rate_hz=cfg.sample_rate_hz or (SAMPLE_RATE_HZ if cfg.resample else 0),
        align=cfg.align,
        latency_samples=cfg.latency_samples,
        fractions=cfg.split,
        min_train_samples=min_train_samples,
        min_eval_samples=min_eval_samples,
        knob_ranges=cfg.knob_ranges,
        holdout=cfg.holdout,
    )
