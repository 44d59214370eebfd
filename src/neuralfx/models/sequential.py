"""A stateful layer stack for models written by other tools (RTNeural JSON, AIDA-X, NAM).

Each layer follows its engine's equations, so rendering a foreign file matches the plugin that
plays it. Like ``RecurrentModel``, ``forward(x, state) -> (y, state)`` on ``(batch, time,
channels)`` tensors, so ``render`` streams both the same way. The host's conventions ride
along: AIDA-X's input/output gains and skip, NAM's stored initial state, and the silence a host
runs through the model after loading it (``warmup_samples``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ModelFileError
from .recurrent import RecurrentModel


class Dense(nn.Module):
    kind = "dense"

    def __init__(self, kernel: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.kernel = nn.Parameter(kernel, requires_grad=False)  # (in, out), Keras layout
        self.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)
        self.width = kernel.shape[1]

    def forward(self, h, state):
        y = h @ self.kernel
        return (y if self.bias is None else y + self.bias), state


ACTIVATIONS = {
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "softmax": lambda h: torch.softmax(h, dim=-1),
    "elu": nn.functional.elu,  # RTNeural's ELU uses alpha 1, as torch's default
}


class Activation(nn.Module):
    def __init__(self, name: str, width: int):
        super().__init__()
        self.kind, self.width, self.fn = name, width, ACTIVATIONS[name]

    def forward(self, h, state):
        return self.fn(h), state


class PReLU(nn.Module):
    kind = "prelu"

    def __init__(self, alpha: torch.Tensor, width: int):
        super().__init__()
        self.alpha = nn.Parameter(alpha, requires_grad=False)  # one value or one per feature
        self.width = width

    def forward(self, h, state):
        return torch.where(h >= 0, h, h * self.alpha), state


class BatchNorm(nn.Module):
    """Inference batch norm: ``gamma * (x - mean) / sqrt(var + eps) + beta``."""

    kind = "batchnorm"

    def __init__(self, mean, var, gamma, beta, epsilon: float):
        super().__init__()
        self.mean = nn.Parameter(mean, requires_grad=False)
        self.mul = nn.Parameter(gamma / torch.sqrt(var + epsilon), requires_grad=False)
        self.beta = nn.Parameter(beta, requires_grad=False)
        self.width = mean.shape[0]

    def forward(self, h, state):
        return self.mul * (h - self.mean) + self.beta, state


class Conv1d(nn.Module):
    """RTNeural's streaming causal Conv1D; its history starts at zero as after ``reset()``."""

    kind = "conv1d"

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, dilation: int, groups: int):
        super().__init__()
        self.weight = nn.Parameter(weight, requires_grad=False)  # (out, in/groups, K), torch
        self.bias = nn.Parameter(bias, requires_grad=False)
        self.dilation, self.groups = dilation, groups
        self.history = (weight.shape[2] - 1) * dilation
        self.width = weight.shape[0]

    def forward(self, h, state):
        h = h.transpose(1, 2)
        buf = state if state is not None else h.new_zeros(h.shape[0], h.shape[1], self.history)
        hh = torch.cat([buf, h], dim=2)
        y = nn.functional.conv1d(
            hh, self.weight, self.bias, dilation=self.dilation, groups=self.groups
        )
        return y.transpose(1, 2), hh[:, :, hh.shape[2] - self.history :]


class Recurrent(nn.Module):
    """One LSTM or GRU layer held as a PyTorch module (RTNeural and NAM use its equations)."""

    def __init__(self, cell: str, module: nn.Module, initial: tuple | torch.Tensor | None = None):
        super().__init__()
        self.kind, self.rnn, self.initial = cell, module, initial
        self.width = module.hidden_size

    def forward(self, h, state):
        if state is None and self.initial is not None:
            state = _tile(self.initial, h.shape[0])
        return self.rnn(h, state)


def _tile(s, batch: int):
    if isinstance(s, tuple):
        return tuple(_tile(t, batch) for t in s)
    return s.view(1, 1, -1).expand(1, batch, -1).contiguous()


class SequentialModel(nn.Module):
    """``y = out_gain * (net(in_gain * x) [+ in_gain * x])``: AIDA-X's order of operations.

    With ``in_channels`` 1 + N the input holds the audio then N knob values (AIDA-X's PARAM1,
    PARAM2); as in AIDA-X, in_gain and the skip touch the audio channel only.
    """

    def __init__(
        self,
        layers: list[nn.Module],
        in_gain: float = 1.0,
        out_gain: float = 1.0,
        skip: bool = False,
        warmup_samples: int = 0,
        in_channels: int = 1,
    ):
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.in_gain, self.out_gain, self.skip = in_gain, out_gain, skip
        self.warmup_samples = warmup_samples
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor, state: Any = None):
        states = list(state) if state is not None else [None] * len(self.layers)
        h = x
        if self.in_gain != 1.0:
            h = torch.cat([x[..., :1] * self.in_gain, x[..., 1:]], dim=-1)
        y = h
        for i, layer in enumerate(self.layers):
            y, states[i] = layer(y, states[i])
        if self.skip:
            y = y + h[..., :1]
        if self.out_gain != 1.0:
            y = y * self.out_gain
        return y, states

    @torch.inference_mode()
    def start_state(self, knobs=(), block_samples: int = 1 << 16) -> Any:
        """The state a host plays from: the file's initial state after the host's warm-up,
        silence with the knob inputs at ``knobs`` (0..1 each), as AIDA-X holds them on load."""
        state = None
        left = self.warmup_samples
        row = torch.tensor([0.0, *knobs], dtype=torch.float32)
        if len(row) != self.in_channels:
            raise ValueError(f"the model takes {self.in_channels - 1} knob values")
        while left > 0:
            n = min(left, block_samples)
            _, state = self(row.expand(1, n, -1), state)
            left -= n
        return state

    def describe(self) -> str:
        return " > ".join(f"{layer.kind} {layer.width}" for layer in self.layers)


def to_recurrent_model(model: SequentialModel, where: str = "the model") -> RecurrentModel:
    """An imported model as a trainable ``RecurrentModel`` (e.g. to start training from it).

    Only what ``RecurrentModel`` can express converts: 1-3 LSTM or GRU layers of one size and a
    linear dense(1), with skip. The gains fold into the weights; a stored initial state (NAM) is
    dropped, since training starts every segment from zero state.
    """
    layers = list(model.layers)
    rnns = [layer for layer in layers[:-1] if isinstance(layer, Recurrent)]
    head = layers[-1] if layers else None
    if (
        len(rnns) != len(layers) - 1
        or not 1 <= len(rnns) <= 3
        or not isinstance(head, Dense)
        or head.width != 1
        or len({(r.kind, r.width) for r in rnns}) != 1
    ):
        raise ModelFileError(
            f"{where}: is {model.describe()}; neuralfx trains 1-3 LSTM or GRU layers of one "
            "size followed by dense 1"
        )
    if model.skip and abs(model.in_gain * model.out_gain - 1.0) > 1e-6:
        raise ModelFileError(
            f"{where}: its skip path carries in_gain x out_gain = "
            f"{model.in_gain * model.out_gain:.4g}, which a neuralfx skip (gain 1) cannot hold; "
            "set in_gain and out_gain to 0 dB"
        )
    cell, hidden = rnns[0].kind, rnns[0].width
    out = RecurrentModel(cell, hidden, len(rnns), model.skip, knobs=model.in_channels - 1)
    state = {}
    for k, r in enumerate(rnns):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            state[f"{cell}.{name}_l{k}"] = getattr(r.rnn, f"{name}_l0").detach().clone()
    state[f"{cell}.weight_ih_l0"][:, 0] *= model.in_gain  # the audio input only, not the knobs
    bias = head.bias if head.bias is not None else torch.zeros(1)
    state["dense.weight"] = head.kernel.detach().T * model.out_gain
    state["dense.bias"] = bias.detach().clone() * model.out_gain
    out.load_state_dict(state)
    return out.eval()
