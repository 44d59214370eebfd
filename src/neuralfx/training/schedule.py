"""The learning-rate schedule, as a function of how far the run has got.

A run knows its length in advance: the wall-clock budget, or ``max_epochs`` when there is none.
The rate holds its peak for most of the run, then falls along a half cosine to a hundredth of
the peak over the last ``DECAY_FRACTION``. On these small recurrent models progress is limited
by step size more than by gradient noise (the gain test kept improving at a constant 2e-2, and
a warm-up or an early decay only slowed it); clipping every step's gradient norm to 1 keeps
the first, huge gradients out of Adam's second moment, so no warm-up is needed. That last stretch is what turns a
noisy record into a converged one (the old recipe's validation ESR jumped by orders of
magnitude between epochs), and it comes at the end of every budget, short or long.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..errors import RunError

DECAY_FRACTION = 0.3  # the last part of the run, over which the rate falls
FINAL_FACTOR = 0.01  # the rate at the end of the run, relative to the peak


def lr_factor(fraction: float) -> float:
    """The learning rate relative to the peak at ``fraction`` (0..1) of the run."""
    f = min(max(fraction, 0.0), 1.0)
    if f < 1.0 - DECAY_FRACTION:
        return 1.0
    t = (f - (1.0 - DECAY_FRACTION)) / DECAY_FRACTION
    return FINAL_FACTOR + (1.0 - FINAL_FACTOR) * 0.5 * (1.0 + math.cos(math.pi * t))


@dataclass
class Schedule:
    """The run's rate and context; checkpointed as plain numbers.

    ``warmup_samples`` is fixed when the run starts (from the data's measured envelope
    memory) and kept, so a resumed run trains on the same segments as an uninterrupted one.
    """

    peak_lr: float
    warmup_samples: int
    memory_s: float

    def lr(self, fraction: float) -> float:
        return self.peak_lr * lr_factor(fraction)

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
