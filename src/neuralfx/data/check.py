"""Dataset checks before training: every pair's (see ``pair_check``), then the dataset's own.

``check_dataset`` is what the trainer calls first. It finds the pairs (``pairs.find_pairs``,
or the settings of ``knobs.csv``), checks each, checks what holds across them (one rate, knob
settings of equal length, enough audio) and returns the corrected arrays: at the dataset's
own rate or resampled in memory to ``--sample-rate`` (never written back).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..audio import SAMPLE_RATE_HZ, info
from ..errors import AudioError, ConfigError, DatasetError, NeuralFXError
from .knobs import KnobTable, read_knobs
from .pair_check import PairReport, SignalStats, check_pair, read_with_stats
from .pairs import Pair, dataset_name, every_pair, find_pairs, setting_pairs

MIN_DURATION_S = 10.0
MIN_RATE_HZ, MAX_RATE_HZ = 22050, 192000

__all__ = ["DatasetReport", "PairReport", "SignalStats", "check_dataset", "read_with_stats"]


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
