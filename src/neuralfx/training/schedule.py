"""The learning rate over a run whose length is known: hold the peak, then a cosine to the end.

With a budget, the run knows when it ends, so the rate can land: it holds the peak (progress on
these small models is limited by step size, not gradient noise) and falls along a half cosine
to a hundredth of the peak over the last ``DECAY_FRACTION`` of the budget, turning the jitter
of the last steps into a converged model by the time the budget is spent. Without a budget
the end is set by early stopping, and the rate halves on validation plateaus instead.
"""

from __future__ import annotations

import math

DECAY_FRACTION = 0.3  # the last part of the budget, over which the rate falls
FINAL_FACTOR = 0.01  # the rate at the end, relative to the peak


def has_tail(lr_schedule: str, budget_s: float) -> bool:
    """Whether the rate lands along the cosine: it needs the run's end, the budget (else
    ``max_epochs``)."""
    return lr_schedule == "cosine" or (lr_schedule == "auto" and budget_s > 0)


def run_fraction(budget_s: float, max_epochs: int, seconds: float, epochs: float) -> float:
    """How far through its length a run with a tail is: by the budget, else by the epochs."""
    return seconds / budget_s if budget_s else epochs / max_epochs


def tail_epochs(rows, budget_s: float, max_epochs: int) -> int:
    """Epochs validated since the rate began to fall."""
    start = 1.0 - DECAY_FRACTION
    return sum(
        run_fraction(budget_s, max_epochs, r["seconds"], r["epoch"] + 1) > start for r in rows
    )


def lr_factor(fraction: float) -> float:
    """The rate relative to the peak at ``fraction`` (0..1) of the budget."""
    f = min(max(fraction, 0.0), 1.0)
    start = 1.0 - DECAY_FRACTION
    if f < start:
        return 1.0
    t = (f - start) / DECAY_FRACTION
    return FINAL_FACTOR + (1.0 - FINAL_FACTOR) * 0.5 * (1.0 + math.cos(math.pi * t))


STEPS_PER_DOUBLING = 8000  # optimiser steps at each chunk length before it doubles
CHUNK_START = 128


def first_chunk(chunk_start: int, chunk_samples: int, knobs: bool) -> int:
    """The chunk length a run starts at: ``--chunk-start``, or by default 128, except on knob
    data, which starts at the full ``--chunk``. The short chunks were chosen on one-setting
    data only. A first knob run with them diverged, and the cause turned out to be fused Adam
    (bench/notes.md), so 128 on knob data is simply unmeasured."""
    if chunk_start:
        return chunk_start
    return chunk_samples if knobs else CHUNK_START


def chunk_at(step: int, start: int, final: int) -> int:
    """The TBPTT chunk length after ``step`` optimiser steps: ``start``, doubling every
    ``STEPS_PER_DOUBLING`` steps, up to ``final``.

    Short chunks first: most of a step's cost is fixed overhead, so 128-sample chunks give
    about 2.5x the steps per second of 512-sample ones (4.6 against 11 ms), and early on the
    number of steps is what limits progress (at a 20 s budget: 21x lower held-out ESR on sox's
    amp chain, 46x on its fuzz, with the weight average and the cosine tail). Longer ones later:
    the gradient then reaches back far enough for slower dynamics and the last steps are less
    noisy (180 s: 5x lower on the amp chain and 1.5x on the compander than 128 throughout).
    Counted in steps, not seconds, so a run grows the same way on any machine and on resume.
    """
    if start >= final:
        return final
    length = start << (step // STEPS_PER_DOUBLING)
    return min(length, final)
