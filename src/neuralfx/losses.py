"""Training losses for effect modelling, as small composable modules.

ESR and DC losses follow Wright, Damskägg & Välimäki, "Real-time guitar amplifier emulation
with deep learning" (2020) and Wright et al., "Perceptual loss function for neural modelling
of audio systems" (ICASSP 2020): ESR on first-order pre-emphasised audio plus a DC term.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

_EPS = 1e-10


def esr(target: np.ndarray, prediction: np.ndarray) -> float:
    """Error-to-signal ratio sum((y - ŷ)²) / sum(y²) of two arrays (the honest metric)."""
    target = np.asarray(target, dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64)
    return float(np.sum((target - prediction) ** 2) / (np.sum(target**2) + _EPS))


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


class ESRLoss(nn.Module):
    def __init__(self, pre_emphasis: float = 0.0):
        super().__init__()
        self.pre = PreEmphasis(pre_emphasis)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        p, t = self.pre(prediction), self.pre(target)
        return torch.sum((t - p) ** 2) / (torch.sum(t**2) + _EPS)


class DCLoss(nn.Module):
    """Squared difference of the means, normalised by the target energy."""

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = torch.mean(target - prediction, dim=1)
        return torch.mean(diff**2) / (torch.mean(target**2) + _EPS)


class EffectLoss(nn.Module):
    """``esr_weight * ESR(pre-emphasised) + dc_weight * DC``."""

    def __init__(
        self, esr_weight: float = 0.75, dc_weight: float = 0.25, pre_emphasis: float = 0.85
    ):
        super().__init__()
        self.esr_weight, self.dc_weight = esr_weight, dc_weight
        self.esr = ESRLoss(pre_emphasis)
        self.dc = DCLoss()

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = self.esr_weight * self.esr(prediction, target)
        if self.dc_weight:
            loss = loss + self.dc_weight * self.dc(prediction, target)
        return loss
