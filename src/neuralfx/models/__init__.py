"""Model registry: every entry trains in ``train()`` and exports to RTNeural.

A model RTNeural cannot run is refused here, at construction, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..config import ModelConfig
from ..errors import ConfigError
from .recurrent import RecurrentModel, detach_state

# Hidden sizes RTNeural runs well (its SIMD paths like multiples of 4) and that the C++ example
# compiles for the lab format.
RTNEURAL_HIDDEN_SIZES = (4, 8, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128)
LAB_FORMAT_HIDDEN_SIZES = (8, 16, 32, 64)
DEFAULT_HIDDEN = 32  # what ``--hidden 0`` builds outside a training run (training/sizing.py)


@dataclass(frozen=True)
class Architecture:
    name: str
    cell: str
    conv_layers: int
    description: str


REGISTRY: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture("lstm", "lstm", 0, "the lab's model: LSTM + dense"),
        Architecture("gru", "gru", 0, "GRU + dense: fewer weights than an LSTM of the same size"),
        Architecture("conv-lstm", "lstm", 3, "3 dilated causal Conv1D (tanh) in front of an LSTM"),
        Architecture("conv-gru", "gru", 3, "3 dilated causal Conv1D (tanh) in front of a GRU"),
    )
}


def build_model(cfg: ModelConfig, extra_inputs: int = 0) -> RecurrentModel:
    """Build a registry model, refusing what RTNeural cannot run. ``extra_inputs`` widens the
    input beside the knobs (the knob teacher's second audio channel; never exported)."""
    if cfg.name not in REGISTRY:
        raise ConfigError(f"unknown model {cfg.name!r}; choose one of: {', '.join(REGISTRY)}")
    hidden = cfg.hidden_size or DEFAULT_HIDDEN
    if hidden not in RTNEURAL_HIDDEN_SIZES:
        raise ConfigError(
            f"hidden size {hidden} is not one RTNeural's compile-time and SIMD paths "
            f"support; choose one of {', '.join(map(str, RTNEURAL_HIDDEN_SIZES))}"
        )
    arch = REGISTRY[cfg.name]
    return RecurrentModel(
        arch.cell,
        hidden,
        cfg.num_layers,
        cfg.skip,
        arch.conv_layers,
        cfg.conv_channels,
        cfg.conv_kernel,
        cfg.knobs + extra_inputs,
    )


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = [
    "REGISTRY",
    "Architecture",
    "RecurrentModel",
    "build_model",
    "count_parameters",
    "detach_state",
    "RTNEURAL_HIDDEN_SIZES",
    "LAB_FORMAT_HIDDEN_SIZES",
]
