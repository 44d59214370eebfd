"""Recurrent effect models: optional causal Conv1D front end, LSTM/GRU, dense output, skip.

Tensors are ``(batch, time, channels)`` throughout. ``forward`` takes and returns a state so
that truncated back-propagation and block rendering carry it across calls exactly as a
plugin does sample by sample.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from .fast import recurrent_forward

State = Any  # (conv buffers list | None, rnn hidden state | None)


class CausalConv1d(nn.Module):
    """Dilated causal 1-D convolution whose past samples are part of the carried state.

    Starting from a zero buffer matches RTNeural's streaming Conv1D after ``reset()``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, dilation=dilation)
        self.history = (kernel_size - 1) * dilation

    def forward(
        self, x: torch.Tensor, buf: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # x: (batch, channels, time)
        if buf is None:
            buf = x.new_zeros(x.shape[0], x.shape[1], self.history)
        xx = torch.cat([buf, x], dim=2)
        new_buf = xx[:, :, xx.shape[2] - self.history :] if self.history else buf
        return self.conv(xx), new_buf


class RecurrentModel(nn.Module):
    """``[conv -> tanh]* -> lstm|gru -> dense (+ x)``.

    Attribute names are the lab's (``lstm``/``gru`` and ``dense``) so the state_dict keys are
    exactly what RTNeural's ``torch_helpers`` read.

    With ``knobs`` N > 0 the input has ``1 + N`` channels: the audio sample, then each knob
    scaled to 0..1, at every time step (what RTNeural and AIDA-X feed a conditioned model).
    Every layer sees all of them, the conv front end included (for a constant knob a conv is
    a learned offset), so the network is one plain RTNeural sequential model; the skip adds
    the audio channel only.
    """

    def __init__(
        self,
        cell: str = "lstm",
        hidden_size: int = 32,
        num_layers: int = 1,
        skip: bool = False,
        conv_layers: int = 0,
        conv_channels: int = 8,
        conv_kernel: int = 3,
        knobs: int = 0,
    ):
        super().__init__()
        self.cell = cell
        self.skip = skip
        self.knobs = knobs
        self.convs = nn.ModuleList()
        in_size = 1 + knobs
        for i in range(conv_layers):
            self.convs.append(CausalConv1d(in_size, conv_channels, conv_kernel, dilation=2**i))
            in_size = conv_channels
        rnn_cls = {"lstm": nn.LSTM, "gru": nn.GRU}[cell]
        setattr(self, cell, rnn_cls(in_size, hidden_size, num_layers=num_layers, batch_first=True))
        self.dense = nn.Linear(hidden_size, 1)

    @property
    def rnn(self) -> nn.Module:
        return getattr(self, self.cell)

    @property
    def in_channels(self) -> int:
        return 1 + self.knobs

    def forward(self, x: torch.Tensor, state: State = None) -> tuple[torch.Tensor, State]:
        conv_state, rnn_state = state if state is not None else (None, None)
        h = x
        new_conv_state = []
        if len(self.convs):
            h = h.transpose(1, 2)
            for i, conv in enumerate(self.convs):
                h, b = conv(h, None if conv_state is None else conv_state[i])
                h = torch.tanh(h)
                new_conv_state.append(b)
            h = h.transpose(1, 2)
        h, rnn_state = recurrent_forward(self.rnn, h, rnn_state)
        y = self.dense(h)
        if self.skip:
            y = y + x[..., :1]
        return y, (new_conv_state or None, rnn_state)


def detach_state(state: State) -> State:
    """Cut the graph at a chunk boundary (truncated BPTT) while keeping the values."""
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    return state


def init_memory(rnn: nn.Module, longest_samples: float) -> None:
    """Spread the recurrent units' time constants log-uniformly from 2 samples to about
    ``longest_samples``, through their forget (LSTM) or update (GRU) gate biases.

    PyTorch's initialisation leaves every unit forgetting half its state each sample, and
    Adam needs hundreds of steps to push a bias to the ~8 that holds a level for 100 ms. With
    the spread (Tallec and Ollivier's "chrono" initialisation, in log spacing so that fast
    units stay for the waveform), an LSTM on sox's compander scored a validation ESR 2.4-9x
    lower after its first epoch, and 1.05-1.15x lower in the end (bench/notes.md). An LSTM's
    input gate gets the opposite bias, so a slow unit also takes in slowly: a leaky integrator
    of its input.
    """
    hidden = rnn.hidden_size
    with torch.no_grad():
        for layer in range(rnn.num_layers):
            # a gate at sigmoid(b) keeps a share 1 - 1/T a sample for T = 1 + e^b samples
            bias = torch.rand(hidden) * math.log(max(longest_samples, 1.0))
            b_ih, b_hh = getattr(rnn, f"bias_ih_l{layer}"), getattr(rnn, f"bias_hh_l{layer}")
            gate = slice(hidden, 2 * hidden)  # forget (i, f, g, o) and update (r, z, n) alike
            b_ih[gate], b_hh[gate] = bias, 0.0
            if isinstance(rnn, nn.LSTM):
                b_ih[:hidden], b_hh[:hidden] = -bias, 0.0


# gates held open at sigmoid(3) = 0.95 and the forget gates at sigmoid(0) = 0.5 while a unit
# is linear; the cells' peak on the training audio, where tanh(c) is c to 3e-5: a sustained
# tone 1.3x louder than that audio still plays the filter to an ESR of 1e-5 (a peak of 0.03
# gave 5e-5, 0.1 held-out ESR 50x worse; bench/notes.md)
OPEN_BIAS, FORGET_BIAS, LINEAR_PEAK = 3.0, 0.0, 0.01


def start_as_filter(model: RecurrentModel, a, b, c, state_peak: float) -> None:
    """Set a one-layer LSTM to the linear system ``z[t] = a z[t-1] + b x[t]``, ``y = c z``.

    A unit with constant gates i, f, o and a small cell is linear: ``c' = f c + i g`` with
    ``g = W x + U h`` and ``h = o c``. So the cell ``alpha z`` follows the system when
    ``U = (a - f) / (i o)`` and ``W = alpha b / i``, and the dense layer reads ``c / (alpha o)``.
    ``alpha`` puts the state's peak (``state_peak`` on the training audio) at LINEAR_PEAK.
    The units past the system's order keep their random start and a zero output weight, so
    they still learn; the system's own gate weights are zero, its gates constant.
    """
    rnn, order = model.rnn, len(b)
    if not isinstance(rnn, nn.LSTM) or rnn.num_layers != 1 or len(model.convs) or model.knobs:
        raise ValueError("a linear start needs a one-layer LSTM on the audio alone")
    hidden = rnn.hidden_size
    if order > hidden:
        raise ValueError(f"a {order}-state system does not fit {hidden} units")
    i = o = 1 / (1 + math.exp(-OPEN_BIAS))
    f = 1 / (1 + math.exp(-FORGET_BIAS))
    alpha = LINEAR_PEAK / max(state_peak, 1e-12)
    w = rnn.weight_hh_l0
    as_tensor = lambda v: torch.as_tensor(v, dtype=w.dtype, device=w.device)  # noqa: E731
    with torch.no_grad():
        w_ih, w_hh, b_ih, b_hh = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0
        for gate, bias in enumerate((OPEN_BIAS, FORGET_BIAS, 0.0, OPEN_BIAS)):  # i, f, g, o
            rows = slice(gate * hidden, gate * hidden + order)
            w_ih[rows], w_hh[rows], b_ih[rows], b_hh[rows] = 0.0, 0.0, bias, 0.0
        g = slice(2 * hidden, 2 * hidden + order)
        w_ih[g, 0] = as_tensor(alpha * b / i)
        w_hh[g, :order] = as_tensor((a - f * np.eye(order)) / (i * o))
        model.dense.weight.zero_()
        model.dense.weight[0, :order] = as_tensor(c / (alpha * o))
        model.dense.bias.zero_()
