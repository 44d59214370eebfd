"""Model registry: every entry trains in ``train()`` and exports to RTNeural.

A model RTNeural cannot run is refused here, at construction, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from ..errors import ConfigError
from .recurrent import RecurrentModel, detach_state

# Hidden sizes RTNeural runs well (its SIMD paths like multiples of 4) and that the C++ example
# compiles for the lab format.
RTNEURAL_HIDDEN_SIZES = (4, 8, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128)
LAB_FORMAT_HIDDEN_SIZES = (8, 16, 32, 64)


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


def build_model(
    name: str,
    hidden_size: int,
    num_layers: int = 1,
    skip: bool = False,
    conv_channels: int = 8,
    conv_kernel: int = 3,
) -> RecurrentModel:
    """Build a registry model, refusing what RTNeural cannot run."""
    if name not in REGISTRY:
        raise ConfigError(f"unknown model {name!r}; choose one of: {', '.join(REGISTRY)}")
    if hidden_size not in RTNEURAL_HIDDEN_SIZES:
        raise ConfigError(
            f"hidden size {hidden_size} is not one RTNeural's compile-time and SIMD paths support; "
            f"choose one of {', '.join(map(str, RTNEURAL_HIDDEN_SIZES))}"
        )
    if not 1 <= num_layers <= 3:
        raise ConfigError(f"num_layers is {num_layers}; neuralfx exports 1 to 3 stacked layers")
    arch = REGISTRY[name]
    if arch.conv_layers and not 1 <= conv_channels <= 32:
        raise ConfigError(f"conv_channels is {conv_channels}; use 1 to 32")
    if arch.conv_layers and not 2 <= conv_kernel <= 8:
        raise ConfigError(f"conv_kernel is {conv_kernel}; use 2 to 8")
    return RecurrentModel(
        arch.cell, hidden_size, num_layers, skip, arch.conv_layers, conv_channels, conv_kernel
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
