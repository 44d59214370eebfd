"""The learning-rate schedule and gradient clipping, as functions of how far the run has got.

A run knows its length in advance: the wall-clock budget, or ``max_epochs`` when there is none.
The learning rate warms up over the first few percent of it and then follows a cosine down to
a small fraction of the peak at the end, so the last steps of any budget are fine-tuning ones
and the record at the end is not a lucky epoch of a noisy constant rate (the old recipe's
validation ESR jumped by orders of magnitude between epochs). Clipping is relative to the
recent gradient norms, so it cuts spikes without rescaling every step against the schedule.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..errors import RunError

WARMUP_FRACTION = 0.03  # of the run: Adam's moments settle before the peak rate
START_FACTOR = 0.1  # the rate at the first step, relative to the peak
FINAL_FACTOR = 0.01  # the rate at the end of the run, relative to the peak
CLIP_RATIO = 3.0  # a step's gradient norm is capped at this many times the recent mean
NORM_DECAY = 0.98  # of the running mean of gradient norms (about 50 steps)


def lr_factor(fraction: float) -> float:
    """The learning rate relative to the peak at ``fraction`` (0..1) of the run."""
    f = min(max(fraction, 0.0), 1.0)
    if f < WARMUP_FRACTION:
        return START_FACTOR + (1.0 - START_FACTOR) * f / WARMUP_FRACTION
    t = (f - WARMUP_FRACTION) / (1.0 - WARMUP_FRACTION)
    return FINAL_FACTOR + (1.0 - FINAL_FACTOR) * 0.5 * (1.0 + math.cos(math.pi * t))


@dataclass
class Schedule:
    """The run's rate and clipping state; checkpointed as plain numbers.

    ``warmup_samples`` is fixed when the run starts (from the data's measured envelope
    memory) and kept, so a resumed run trains on the same segments as an uninterrupted one.
    """

    peak_lr: float
    warmup_samples: int
    memory_s: float
    grad_norm_mean: float = 0.0  # running mean of the gradient norms before clipping
    steps: int = 0

    def lr(self, fraction: float) -> float:
        return self.peak_lr * lr_factor(fraction)

    def clip_norm(self, norm: float) -> float | None:
        """The norm to clip this step's gradient to, or None to leave it; updates the mean."""
        limit = CLIP_RATIO * self.grad_norm_mean if self.steps else None
        if math.isfinite(norm):
            kept = min(norm, limit) if limit else norm
            a = NORM_DECAY if self.steps else 0.0
            self.grad_norm_mean = a * self.grad_norm_mean + (1.0 - a) * kept
            self.steps += 1
        return limit if limit is not None and norm > limit else None

    def state_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict) or set(state) != set(asdict(self)):
            raise RunError("the checkpoint's schedule is not this version's; start a new run")
        for k, v in state.items():
            setattr(self, k, type(getattr(self, k))(v))


def run_fraction(
    train_seconds: float, budget_s: float, epoch: int, batch: int, batches: int, max_epochs: int
) -> float:
    """How far the run is (0..1): by epochs of ``max_epochs``, or by training time of the
    budget when that is further along (whichever ends the run first)."""
    by_epochs = (epoch + batch / max(batches, 1)) / max_epochs
    by_time = train_seconds / budget_s if budget_s else 0.0
    return min(max(by_epochs, by_time), 1.0)
