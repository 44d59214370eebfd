"""Back from a diverged epoch: the record's weights again, at half the rate.

At the peak rate a recurrent model now and then leaves the basin it was in and does not come
back. On sox's compander at 180 s a GRU's training loss jumped from 0.012 to 1.6 in its third
epoch, every gradient of the next two epochs was non-finite (each step skipped), and the rest of
the run wandered at a validation ESR of 0.25-0.7; the record it kept was the one of its second
epoch, at 16 s. A dedicated 40 dB overdrive model went to NaN the same way in every long run
(bench/notes.md). So an epoch that diverged, by either sign below, sends the model back to the
record's weights with fresh Adam moments, a fresh weight average and half the peak rate, for
the rest of the run (``Progress.rate_scale``, checkpointed).
"""

from __future__ import annotations

import math

import torch

from .averaging import WeightAverage
from .state import Progress

DIVERGED_FACTOR = 10.0  # a validation loss this many times the record's has diverged
SKIPPED_SHARE = 0.5  # so has an epoch with more than this share of its steps skipped
RATE_CUT = 0.5  # the peak rate's factor after each rollback


def diverged(val_loss: float, best_val: float, skipped: int, steps: int) -> str | None:
    """Why an epoch that set no record counts as diverged, or None."""
    if steps and skipped > SKIPPED_SHARE * steps:
        return f"{skipped} of its {steps} steps had a non-finite gradient"
    if not math.isfinite(val_loss):
        return "its validation loss is not finite"
    if math.isfinite(best_val) and val_loss > DIVERGED_FACTOR * best_val:
        return f"its validation loss is {val_loss / best_val:.0f}x the record's"
    return None


def roll_back(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    average: WeightAverage | None,
    progress: Progress,
) -> WeightAverage | None:
    """The model at the record's weights, Adam's moments dropped, the rate cut; returns the
    weight average started afresh from the record (None without one)."""
    model.load_state_dict(progress.best_state)
    opt.state.clear()  # moments gathered on the way out of the basin
    for group in opt.param_groups:  # the plateau schedule's rate; a tail sets its own
        group["lr"] *= RATE_CUT
    progress.rate_scale *= RATE_CUT
    return WeightAverage(average.params, average.decay) if average is not None else None


def rollback_note(why: str, progress: Progress, learning_rate: float) -> str:
    p = progress
    return (
        f"epoch {p.epoch - 1} diverged ({why}): back to epoch {p.best_epoch}'s weights, the "
        f"peak rate cut to {learning_rate * p.rate_scale:.2e}"
    )
