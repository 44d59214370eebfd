"""Dataset checks before training: rates, channels, lengths, levels, clipping and latency.

``check_dataset`` is what the trainer calls first. It reads every pair found by
``pairs.find_pairs``, reports what is wrong in words that say what it costs, and returns the
corrected arrays: at the dataset's own rate, or resampled in memory to ``--sample-rate``
(never written back), first channel only, trimmed to a common length and, with ``align``,
shifted so the output's latency is removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..audio import SAMPLE_RATE_HZ, info, read_audio, resample
from ..dsp.latency import estimate_latency
from ..dsp.levels import FLOOR_DB, gain_to_db
from ..errors import AudioError, ConfigError, DatasetError, NeuralFXError
from .knobs import KnobTable, read_knobs
from .pairs import Pair, dataset_name, every_pair, find_pairs, setting_pairs

MAX_LATENCY_SAMPLES = 4  # more than this and the model would have to predict the future
MIN_DURATION_S = 10.0
CLIP_LEVEL = 0.999  # |sample| at or above this counts as full scale
MAX_CLIPPED_FRACTION = 0.01
MAX_TRIM_S = 0.1  # length differences up to this are trimmed; larger ones are an error
MAX_TRIM_FRACTION = 0.01  # lengths may differ by MAX_TRIM_S or by this fraction, whichever is more
QUIET_PEAK_DBFS = -50.0
MIN_RATE_HZ, MAX_RATE_HZ = 22050, 192000


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


@dataclass
class DatasetReport:
    data_dir: Path
    name: str
    pairs: list[PairReport]
    warnings: list[str] = field(default_factory=list)
    sample_rate_hz: int = SAMPLE_RATE_HZ  # the rate of the corrected arrays
    dataset_errors: list[NeuralFXError] = field(default_factory=list)  # not of one pair
    knobs: KnobTable | None = None  # knobs.csv: the pairs are its settings, in its order

    @property
    def errors(self) -> list[NeuralFXError]:
        return [e for p in self.pairs for e in p.errors] + self.dataset_errors

    @property
    def all_warnings(self) -> list[str]:
        return self.warnings + [w for p in self.pairs for w in p.warnings]

    @property
    def arrays(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Corrected (input, output) arrays, ready for ``loader.split_pairs``."""
        self.raise_for_errors()
        return [(p.x, p.y) for p in self.pairs]

    def arrays_by_output(self) -> list[tuple[str, tuple[np.ndarray, np.ndarray]]]:
        """Each knob setting's corrected arrays, by its knobs.csv row."""
        out = self.data_dir / "output"
        return [
            (r.pair.output_path.relative_to(out).as_posix(), xy)
            for r, xy in zip(self.pairs, self.arrays)
        ]

    def raise_for_errors(self) -> None:
        errors = self.errors
        if errors:
            more = (
                f" (+{len(errors) - 1} more: neuralfx data check {self.data_dir})"
                if len(errors) > 1
                else ""
            )
            raise type(errors[0])(f"{errors[0]}{more}")


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


def check_dataset(
    data_dir: str | Path,
    output_name: str = "",
    sample_rate_hz: int = 0,
    align: bool = False,
    latency_samples: int | None = None,
    raise_errors: bool = True,
    all_outputs: bool = False,
    knob_ranges: dict[str, tuple[float, float]] | None = None,
) -> DatasetReport:
    """Check every pair of a dataset and return corrected arrays plus warnings.

    ``sample_rate_hz`` 0 keeps the dataset's own rate (the first input's), which every file
    must share; a rate resamples every pair to it. ``latency_samples`` set means "the output
    lags by this much": it is removed and not measured. With ``raise_errors`` the first problem
    is raised as an AudioError or DatasetError (one line, with the count of the others).
    ``all_outputs`` (for ``data check``) checks every output of a single input. With a
    ``knobs.csv`` (and no ``output_name``) every output it lists is a pair: one knob setting.
    """
    if sample_rate_hz and not MIN_RATE_HZ <= sample_rate_hz <= MAX_RATE_HZ:
        raise ConfigError(f"--sample-rate {sample_rate_hz}: use {MIN_RATE_HZ} to {MAX_RATE_HZ} Hz")
    root = Path(data_dir)
    table, table_error = None, None
    if not output_name:  # --output picks one setting: a model of that setting alone
        try:
            table = read_knobs(root, knob_ranges)
        except DatasetError as exc:
            if raise_errors:
                raise
            table_error = exc
    if table is not None:
        pairs = setting_pairs(root, list(table.settings))
    elif all_outputs and not output_name:
        pairs = every_pair(root)
    else:
        pairs = find_pairs(root, output_name)
    rate = sample_rate_hz or _first_rate(pairs)
    reports = [check_pair(p, rate, bool(sample_rate_hz), align, latency_samples) for p in pairs]
    report = DatasetReport(root, dataset_name(root, pairs), reports, sample_rate_hz=rate)
    report.knobs = table
    report.dataset_errors += [table_error] if table_error else check_settings(report)
    multi = [str(s.path) for r in reports for s in (r.input, r.output) if s and s.channels > 1]
    if multi:
        report.warnings.append(
            f"{len(multi)} file(s) have several channels (first: {multi[0]}); "
            "only the first channel is used"
        )
    if not report.errors:
        total_s = sum(len(r.x) for r in reports) / rate
        if total_s < MIN_DURATION_S:
            report.warnings.append(
                f"{report.data_dir}: only {total_s:.1f} s of audio; the model will overfit and "
                f"the test score rests on {0.1 * total_s:.1f} s: record 30 s or more"
            )
    if raise_errors:
        report.raise_for_errors()
    return report


def _first_rate(pairs: list[Pair]) -> int:
    """The dataset's own rate: its first input's (unreadable files are reported per pair)."""
    try:
        rate = info(pairs[0].input_path).sample_rate_hz
    except AudioError:
        return SAMPLE_RATE_HZ
    if not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        return SAMPLE_RATE_HZ  # check_pair then names the file and the --sample-rate fix
    return rate


def check_settings(report: DatasetReport) -> list[NeuralFXError]:
    """The settings of one clean input are recordings of it: the same rate and length each."""
    first: dict[Path, SignalStats] = {}
    for r in report.pairs if report.knobs else []:
        if r.output is None:
            continue
        s = first.setdefault(r.pair.input_path, r.output)
        if (s.sample_rate_hz, s.frames) != (r.output.sample_rate_hz, r.output.frames):
            o = r.output
            return [
                DatasetError(
                    f"{o.path}: {o.frames} samples at {o.sample_rate_hz} Hz, but {s.path.name} "
                    f"has {s.frames} at {s.sample_rate_hz} Hz; every knob setting must be "
                    "recorded from the same clean input"
                )
            ]
    return []
