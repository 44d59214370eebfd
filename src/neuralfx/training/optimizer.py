"""The optimiser every learner in a run steps with: Adam whose second moment forgets fast.

PyTorch's Adam averages the squared gradients over about 1,000 steps (beta2 = 0.999). In the
first thousands of steps of a run the gradients shrink as fast as the loss falls, so that
average still holds the large ones of the start, and every step is a fraction of the rate
the schedule asks for. With 0.99 (about 100 steps) the step follows the schedule: the hold is
as fast as it is meant to be, and the landing lands where it should (bench/notes.md,
"Adam's second moment"). The first moment keeps PyTorch's 0.9. Knob data keeps PyTorch's
betas: its runs (the knob teacher's included) were tuned with them and 0.99 is unmeasured there.
"""

from __future__ import annotations

import torch

BETAS = (0.9, 0.99)
KNOB_BETAS = (0.9, 0.999)  # PyTorch's


def adam(params, learning_rate: float, knobs: bool = False) -> torch.optim.Adam:
    """Adam with the run's betas. Not fused: 2.6x faster a step on the CPU, but it wrecked
    every knob run (bench/notes.md)."""
    return torch.optim.Adam(params, lr=learning_rate, betas=KNOB_BETAS if knobs else BETAS)
