"""Checks of one clean/processed pair: rates, channels, lengths, levels, clipping, latency.

``check_pair`` reads both files and returns a ``PairReport``: what is wrong, in words that say
what it costs, and the corrected arrays (resampled in memory, first channel, trimmed and, with
``align``, shifted by the measured latency). ``check.check_dataset`` runs it on every pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..audio import SAMPLE_RATE_HZ, read_audio, resample
from ..dsp.latency import estimate_latency
from ..dsp.levels import FLOOR_DB, gain_to_db
from ..errors import AudioError, DatasetError, NeuralFXError
from .pairs import Pair

MAX_LATENCY_SAMPLES = 4  # more than this and the model would have to predict the future
CLIP_LEVEL = 0.999  # |sample| at or above this counts as full scale
MAX_CLIPPED_FRACTION = 0.01
MAX_TRIM_S = 0.1  # length differences up to this are trimmed; larger ones are an error
MAX_TRIM_FRACTION = 0.01  # lengths may differ by MAX_TRIM_S or by this fraction, whichever is more
QUIET_PEAK_DBFS = -50.0


@dataclass(frozen=True)
class SignalStats:
    path: Path
    sample_rate_hz: int
    channels: int
    frames: int
    peak_dbfs: float
    rms_dbfs: float
    dc_offset: float
    clipped_samples: int
    nonfinite_samples: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate_hz


@dataclass
class PairReport:
    pair: Pair
    input: SignalStats | None = None
    output: SignalStats | None = None
    latency_samples: int | None = None  # measured: how many samples the output lags its input
    shift_samples: int = 0  # what was removed to align them
    trimmed_samples: int = 0
    errors: list[NeuralFXError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    x: np.ndarray | None = None  # corrected input, 44.1 kHz mono float32
    y: np.ndarray | None = None  # corrected output, same length

    @property
    def verdict(self) -> str:
        return "error" if self.errors else "warning" if self.warnings else "ok"


def read_with_stats(path: Path) -> tuple[np.ndarray, SignalStats]:
    """First channel with NaN/inf kept (so they can be counted), plus its level statistics."""
    x, wi = read_audio(path)
    finite = np.isfinite(x)
    clean = np.where(finite, x, 0.0).astype(np.float64)
    stats = SignalStats(
        wi.path,
        wi.sample_rate_hz,
        wi.channels,
        len(x),
        gain_to_db(float(np.max(np.abs(clean), initial=0.0))),
        gain_to_db(float(np.sqrt(np.mean(clean**2)))) if len(x) else FLOOR_DB,
        float(np.mean(clean)) if len(x) else 0.0,
        int(np.count_nonzero(np.abs(clean) >= CLIP_LEVEL)),
        int(np.count_nonzero(~finite)),
    )
    return x, stats


def _content_problems(report: PairReport, x: np.ndarray, s: SignalStats, role: str) -> bool:
    """Append errors/warnings about one file's content; False when it cannot be used."""
    if s.nonfinite_samples:
        first = int(np.flatnonzero(~np.isfinite(x))[0])
        report.errors.append(
            AudioError(
                f"{s.path}: {s.nonfinite_samples} NaN or infinite samples (first at sample {first}); "
                "re-render it from a clean source"
            )
        )
        return False
    if s.peak_dbfs < -120.0:
        report.errors.append(AudioError(f"{s.path}: is silent; it cannot train a model"))
        return False
    if s.peak_dbfs < QUIET_PEAK_DBFS:
        report.warnings.append(
            f"{s.path}: peaks at {s.peak_dbfs:.0f} dBFS; at that level the "
            "model learns noise and dither; record it louder"
        )
    fraction = s.clipped_samples / max(s.frames, 1)
    if fraction > MAX_CLIPPED_FRACTION:
        cost = (
            "the model cannot learn what the clean signal was there"
            if role == "input"
            else "fine for a clipper, but if the interface clipped, the model learns that too"
        )
        report.warnings.append(
            f"{s.path}: {100 * fraction:.1f}% of samples at full scale: "
            f"{cost}; record 6 dB lower if it was not the effect"
        )
    if role == "input" and abs(s.dc_offset) > 0.01:
        report.warnings.append(
            f"{s.path}: DC offset {s.dc_offset:+.3f}; the model learns to "
            "pass it on; high-pass the input at 10 Hz"
        )
    return True


def check_pair(
    pair: Pair,
    rate_hz: int = SAMPLE_RATE_HZ,
    convert: bool = False,
    align: bool = False,
    latency_samples: int | None = None,
) -> PairReport:
    """Read and check one pair at ``rate_hz``; never raises for content problems, it records
    them. Files at another rate are an error unless ``convert`` (``--sample-rate``)."""
    report = PairReport(pair)
    try:
        x, report.input = read_with_stats(pair.input_path)
        y, report.output = read_with_stats(pair.output_path)
    except AudioError as exc:
        report.errors.append(exc)
        return report
    usable = all(
        [
            _content_problems(report, x, report.input, "input"),
            _content_problems(report, y, report.output, "output"),
        ]
    )
    for s in (report.input, report.output):
        if s.sample_rate_hz != rate_hz and not convert:
            report.errors.append(
                AudioError(
                    f"{s.path}: sample rate is {s.sample_rate_hz} Hz, the dataset's is {rate_hz} "
                    f"Hz; every file of a dataset must share one rate: pass --sample-rate "
                    f"{rate_hz} (or {s.sample_rate_hz}) to resample every pair in memory"
                )
            )
            usable = False
    if not usable:
        return report
    x = resample(x, report.input.sample_rate_hz, rate_hz)
    y = resample(y, report.output.sample_rate_hz, rate_hz)
    diff = abs(len(x) - len(y))
    if diff > max(MAX_TRIM_S * rate_hz, MAX_TRIM_FRACTION * max(len(x), len(y))):
        report.errors.append(
            DatasetError(
                f"{pair.output_path}: {len(y) / rate_hz:.2f} s long, its input "
                f"{pair.input_path.name} is {len(x) / rate_hz:.2f} s; they differ by more "
                "than 100 ms (and 1%): export both from the same selection"
            )
        )
        return report
    _align(report, x, y, rate_hz, align, latency_samples)
    return report


def _align(
    report: PairReport,
    x: np.ndarray,
    y: np.ndarray,
    rate_hz: int,
    align: bool,
    latency_samples: int | None,
) -> None:
    """Measure the output's delay and remove what the flags say; a lead is an error, since a
    causal model cannot answer before it hears, while a lag it can learn (at some cost)."""
    pair = report.pair
    measured = report.latency_samples = estimate_latency(
        x, y, max_lag_samples=rate_hz, analyse_samples=60 * rate_hz
    )
    ms = 1000 * abs(measured or 0) / rate_hz
    shift = 0
    if latency_samples is not None:
        shift = latency_samples
        if measured is not None and abs(measured - latency_samples) > MAX_LATENCY_SAMPLES:
            report.warnings.append(
                f"{pair.output_path}: --latency {latency_samples} given, "
                f"but the output measures {measured} samples late"
            )
    elif measured is None:
        report.warnings.append(
            f"{pair.output_path}: latency cannot be measured (no linear "
            "relation to the input); assumed 0, pass --latency N if known"
        )
    elif align:
        shift = measured
    elif measured < -MAX_LATENCY_SAMPLES:
        report.errors.append(
            DatasetError(
                f"{pair.output_path}: leads its input by {-measured} samples ({ms:.2f} ms): a "
                "causal model cannot answer before it hears; the files were cut apart: pass "
                "--align to shift the input by that much"
            )
        )
        return
    elif measured > MAX_LATENCY_SAMPLES:
        report.warnings.append(
            f"{pair.output_path}: lags its input by {measured} samples ({ms:.2f} ms); the "
            "model will learn the delay, which costs it accuracy: pass --align to remove it "
            "(the model then records it for the plugin to report)"
        )
    if shift > 0:
        y = y[shift:]
    elif shift < 0:
        x = x[-shift:]
    report.shift_samples = shift
    n = min(len(x), len(y))
    report.trimmed_samples = max(len(x), len(y)) - n
    report.x, report.y = x[:n], y[:n]
