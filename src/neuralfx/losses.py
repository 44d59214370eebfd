"""Training losses for effect modelling, as small composable modules.

ESR and DC losses follow Wright, Damskägg & Välimäki, "Real-time guitar amplifier emulation
with deep learning" (2020) and Wright et al., "Perceptual loss function for neural modelling
of audio systems" (ICASSP 2020): ESR on first-order pre-emphasised audio plus a DC term.

Training scores chunks of a few segments, and guitar phrases have rests: a chunk where every
segment is silent has an ESR denominator near zero, and one such step scored 8,196 against a
typical 0.01 on sox's compander. ``quiet_floor`` gives each denominator a floor, a small share
of the training target's mean energy, so quiet chunks weigh as absolute error instead.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .dsp.levels import esr  # noqa: F401 (the score, importable from here as before)

_EPS = 1e-10
QUIET_SHARE = 0.01  # the floor: a chunk 20 dB below the target's mean level counts as that level


class PreEmphasis(nn.Module):
    """First-order high-pass ``y[n] - a y[n-1]`` along time of ``(batch, time, 1)`` tensors.

    Weights the error towards high frequencies, where small models are audibly wrong first.
    """

    def __init__(self, coefficient: float):
        super().__init__()
        self.coefficient = coefficient

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.coefficient == 0:
            return x
        return x[:, 1:] - self.coefficient * x[:, :-1]


def quiet_floor(target: np.ndarray, pre_emphasis: float = 0.0) -> float:
    """``QUIET_SHARE`` of the (pre-emphasised) target's mean energy per sample."""
    t = np.asarray(target, dtype=np.float64).reshape(-1)
    if pre_emphasis and len(t) > 1:
        t = t[1:] - pre_emphasis * t[:-1]
    return QUIET_SHARE * float(np.mean(t**2)) if len(t) else 0.0


class ESRLoss(nn.Module):
    """ESR of the pre-emphasised signals; ``floor`` is an energy per sample added to the
    denominator (see ``quiet_floor``)."""

    def __init__(self, pre_emphasis: float = 0.0, floor: float = 0.0):
        super().__init__()
        self.pre = PreEmphasis(pre_emphasis)
        self.floor = floor

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, t = self.pre(prediction), self.pre(target)
        return torch.sum((t - p) ** 2) / (torch.sum(t**2) + self.floor * t.numel() + _EPS)


class DCLoss(nn.Module):
    """Squared difference of the means, normalised by the target energy (plus ``floor``)."""

    def __init__(self, floor: float = 0.0):
        super().__init__()
        self.floor = floor

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = torch.mean(target - prediction, dim=1)
        return torch.mean(diff**2) / (torch.mean(target**2) + self.floor + _EPS)


class EffectLoss(nn.Module):
    """``esr_weight * ESR(pre-emphasised) + dc_weight * DC``; given the training target as
    ``level``, both denominators get its ``quiet_floor``."""

    def __init__(
        self,
        esr_weight: float = 0.75,
        dc_weight: float = 0.25,
        pre_emphasis: float = 0.85,
        level: np.ndarray | None = None,
    ):
        super().__init__()
        self.esr_weight, self.dc_weight = esr_weight, dc_weight
        has_level = level is not None
        self.esr = ESRLoss(pre_emphasis, quiet_floor(level, pre_emphasis) if has_level else 0.0)
        self.dc = DCLoss(quiet_floor(level) if has_level else 0.0)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = self.esr_weight * self.esr(prediction, target)
        if self.dc_weight:
            loss = loss + self.dc_weight * self.dc(prediction, target)
        return loss
