"""Where a run's validation ESR is heading: a power-law extrapolation of its records.

Validation ESR often falls roughly as a power of training time once the first epochs are past
(a straight line on log-log axes), so a line through the recent records says roughly where the
run will be when it ends and when it would reach a target. It is an extrapolation, not a
promise: a plateau, a learning-rate cut or early stopping can all make it wrong, so it is
clamped to what is plausible and shown as an estimate (``~``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_POINTS = 3  # fewer cannot show a trend
RECENT = 6  # records fitted: the early steep ones would promise too much
MAX_GAIN = 100.0  # never forecast more than this far below the current best
MAX_SECONDS = 1e9  # beyond about 30 years a target is as good as never reached
FLAT_SLOPE = 1e-9  # a slope this close to 0 is flat


@dataclass(frozen=True)
class Forecast:
    """The fitted line read at the run's end, and where it crosses the target (if it does)."""

    end_s: float  # training seconds at which the run will end
    end_esr: float  # validation ESR expected then, in [best / MAX_GAIN, best]
    target_s: float | None = None  # training seconds at which the target would be reached


def records(rows: Sequence[dict[str, Any]]) -> list[tuple[float, float]]:
    """(training seconds, val ESR) of each epoch that set a validation-loss record.

    The same rule as the training loop's (a strictly lower loss), so these are the models that
    were kept, in order: the run's best-so-far curve."""
    best, out = math.inf, []
    for row in rows:
        if row["val_loss"] < best:
            best = row["val_loss"]
            out.append((float(row["seconds"]), float(row["val_esr"])))
    return out


def run_end_s(budget_s: float, max_epochs: int, epochs: int, train_seconds: float) -> float:
    """When the run will stop training if nothing else stops it: the budget or the last epoch
    at the mean epoch time so far, whichever comes first; inf before an epoch without a budget."""
    by_epochs = max_epochs * train_seconds / epochs if epochs else math.inf
    return min(budget_s or math.inf, by_epochs)


def forecast(
    points: Sequence[tuple[float, float]], end_s: float, target_esr: float = 0.0
) -> Forecast | None:
    """Fit log ESR = a + b log seconds to the last ``RECENT`` records and read it at ``end_s``.

    None with fewer than ``MIN_POINTS`` usable records (positive time, positive finite ESR) or
    no spread in time. A flat or rising fit forecasts the current best (the last record) and
    no time to the target; otherwise the forecast lies between the best / ``MAX_GAIN`` and the
    best. ``target_s`` is None when no target is set, the fit does not descend, or the target is
    further away than ``MAX_GAIN`` or ``MAX_SECONDS``; it is the record's time when the best is
    already there.
    """
    usable = [(s, e) for s, e in points if s > 0 and 0 < e < math.inf]
    if len(usable) < MIN_POINTS:
        return None
    log_s, log_e = np.log(np.array(usable[-RECENT:])).T
    if np.ptp(log_s) == 0:
        return None
    slope, intercept = np.polyfit(log_s, log_e, 1)
    now_s, best = usable[-1]
    if slope >= -FLAT_SLOPE:  # a flat fit's slope is a rounding error either side of 0
        return Forecast(end_s, best, now_s if 0 < best <= target_esr else None)
    end_esr = math.exp(intercept + slope * math.log(max(end_s, 1e-9)))
    end_esr = min(best, max(best / MAX_GAIN, end_esr))
    return Forecast(end_s, end_esr, _time_to(target_esr, best, now_s, slope, intercept))


def _time_to(target: float, best: float, now_s: float, slope: float, intercept: float):
    if target <= 0 or target < best / MAX_GAIN:
        return None
    if best <= target:
        return now_s
    log_t = (math.log(target) - intercept) / slope
    # the line may lie above the last record: never answer earlier than now
    return max(now_s, math.exp(log_t)) if log_t < math.log(MAX_SECONDS) else None
