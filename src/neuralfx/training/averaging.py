"""An exponential moving average of the weights: the model that is validated, kept and exported.

At the high learning rate that makes these small recurrent models learn fast, single steps
jump around the minimum, and the validation ESR of consecutive epochs differed by up to four
orders of magnitude, so a record was partly luck. The average of the last few hundred steps
sits near the centre of that jitter: it is as good as an annealed model without giving up the
learning rate, at whatever moment a budget ends the run. The decay ramps up from 0 (Tensorflow
and timm do the same), so the first average is not dragged back to the random start.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from ..errors import RunError


class WeightAverage:
    """``avg = d * avg + (1 - d) * w`` after every optimiser step, ``d = min(decay, (1+n)/(10+n))``."""

    def __init__(self, params: list[torch.nn.Parameter], decay: float):
        self.params = params
        self.decay = decay
        self.steps = 0
        self.average = [p.detach().clone() for p in params]

    def update(self) -> None:
        self.steps += 1
        d = min(self.decay, (1 + self.steps) / (10 + self.steps))
        with torch.no_grad():
            torch._foreach_lerp_(self.average, [p.detach() for p in self.params], 1.0 - d)

    @contextlib.contextmanager
    def applied(self) -> Iterator[None]:
        """The averaged weights in the model for the duration; the trained ones after."""
        with torch.no_grad():
            live = [p.detach().clone() for p in self.params]
            for p, a in zip(self.params, self.average):
                p.copy_(a)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, w in zip(self.params, live):
                    p.copy_(w)

    def copy_to_params(self) -> None:
        """Keep the averaged weights in the model for good."""
        with torch.no_grad():
            for p, a in zip(self.params, self.average):
                p.copy_(a)

    def state_dict(self) -> dict:
        return {"steps": self.steps, "average": [a.clone() for a in self.average]}

    def load_state_dict(self, state: dict, where: str) -> None:
        avg = state.get("average") if isinstance(state, dict) else None
        ok = (
            isinstance(avg, list)
            and len(avg) == len(self.average)
            and all(
                isinstance(a, torch.Tensor) and a.shape == b.shape
                for a, b in zip(avg, self.average)
            )
            and isinstance(state.get("steps"), int)
        )
        if not ok:
            raise RunError(
                f"{where}: the checkpoint's weight average does not fit this model; start a new run"
            )
        self.steps = state["steps"]
        for a, b in zip(self.average, avg):
            a.copy_(b)
