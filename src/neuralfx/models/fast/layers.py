"""Stacked GRU/LSTM layers on the numba recurrences, with ``nn.GRU``/``nn.LSTM``'s weights.

Only the recurrence is custom (a ``torch.autograd.Function`` per layer); the input
projections and the weight gradients are whole-sequence matrix products that torch's BLAS
does best, and autograd carries the gradients between layers and to the biases.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import kernels


def _np(t: torch.Tensor, *shape: int) -> np.ndarray:
    """A numpy view (a copy only if ``t`` is not contiguous), gate axis split off if given."""
    a = t.detach().contiguous().numpy()
    return a.reshape(shape) if shape else a


def _gated(t: torch.Tensor, gates: int) -> np.ndarray:
    """``(..., gates * H)`` as ``(..., gates, H)``: the kernels' layout."""
    return _np(t, *t.shape[:-1], gates, t.shape[-1] // gates)


def _transposed(w_hh: torch.Tensor) -> np.ndarray:
    """``W_hh`` (gates * H, H) as (H, gates * H), the kernels' layout."""
    return _np(w_hh.t())


def _prev_states(h0: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """The state each step started from, (batch, time, H): what ``W_hh`` multiplied."""
    return torch.cat([h0.unsqueeze(1), out[:, :-1]], dim=1)


def _weight_grad(d_gates: torch.Tensor, h0: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    return d_gates.flatten(0, 1).t() @ _prev_states(h0, out).flatten(0, 1)


class GRURecurrence(torch.autograd.Function):
    """``out = recurrence(gi, W_hh, b_hh, h0)``; gradients for all four."""

    @staticmethod
    def forward(ctx, gi, w_hh, b_hh, h0):
        n_batch, n_time, n_gates = gi.shape
        hid = n_gates // 3
        out = gi.new_empty(n_batch, n_time, hid)
        saved = gi.new_empty(n_batch, n_time, 4, hid)
        kernels.gru_forward(
            _gated(gi, 3), _transposed(w_hh), _np(b_hh), _np(h0),
            out.numpy(), saved.numpy(), True,
        )  # fmt: skip
        ctx.save_for_backward(w_hh, h0, out, saved)
        return out

    @staticmethod
    def backward(ctx, d_out):
        w_hh, h0, out, saved = ctx.saved_tensors
        n_batch, n_time, _, hid = saved.shape
        d_gi = saved.new_empty(n_batch, n_time, 3, hid)
        d_gh = torch.empty_like(d_gi)
        d_h0 = torch.empty_like(h0)
        kernels.gru_backward(
            _np(d_out), _transposed(w_hh), _np(h0), _np(out), _np(saved),
            d_gi.numpy(), d_gh.numpy(), d_h0.numpy(),
        )  # fmt: skip
        d_gh = d_gh.flatten(2)
        d_w = _weight_grad(d_gh, h0, out) if ctx.needs_input_grad[1] else None
        d_b = d_gh.sum((0, 1)) if ctx.needs_input_grad[2] else None
        return d_gi.flatten(2), d_w, d_b, d_h0


class LSTMRecurrence(torch.autograd.Function):
    """``out, c_n = recurrence(gi, W_hh, h0, c0)``; gradients for all four."""

    @staticmethod
    def forward(ctx, gi, w_hh, h0, c0):
        n_batch, n_time, n_gates = gi.shape
        hid = n_gates // 4
        out = gi.new_empty(n_batch, n_time, hid)
        c_n = gi.new_empty(n_batch, hid)
        saved = gi.new_empty(n_batch, n_time, 5, hid)
        kernels.lstm_forward(
            _gated(gi, 4), _transposed(w_hh), _np(h0), _np(c0),
            out.numpy(), c_n.numpy(), saved.numpy(), True,
        )  # fmt: skip
        ctx.save_for_backward(w_hh, h0, c0, out, saved)
        return out, c_n

    @staticmethod
    def backward(ctx, d_out, d_c_n):
        w_hh, h0, c0, out, saved = ctx.saved_tensors
        n_batch, n_time, _, hid = saved.shape
        d_gates = saved.new_empty(n_batch, n_time, 4, hid)
        d_h0, d_c0 = torch.empty_like(h0), torch.empty_like(c0)
        kernels.lstm_backward(
            _np(d_out), _np(d_c_n), _transposed(w_hh), _np(c0), _np(saved),
            d_gates.numpy(), d_h0.numpy(), d_c0.numpy(),
        )  # fmt: skip
        d_gates = d_gates.flatten(2)
        d_w = _weight_grad(d_gates, h0, out) if ctx.needs_input_grad[1] else None
        return d_gates, d_w, d_h0, d_c0


_NO_SAVE = np.empty((0, 0, 0, 0), np.float32)


def _gru_layer(x, w_ih, w_hh, b_ih, b_hh, h0, grad: bool):
    gi = F.linear(x, w_ih, b_ih)
    if grad:
        return GRURecurrence.apply(gi, w_hh, b_hh, h0)
    hid = w_hh.shape[1]
    out = gi.new_empty(*gi.shape[:2], hid)
    kernels.gru_forward(
        _gated(gi, 3), _transposed(w_hh), _np(b_hh), _np(h0),
        out.numpy(), _NO_SAVE, False,
    )  # fmt: skip
    return out


def _lstm_layer(x, w_ih, w_hh, b_ih, b_hh, h0, c0, grad: bool):
    gi = F.linear(x, w_ih, b_ih + b_hh)
    if grad:
        return LSTMRecurrence.apply(gi, w_hh, h0, c0)
    out = gi.new_empty(*gi.shape[:2], w_hh.shape[1])
    c_n = torch.empty_like(c0)
    kernels.lstm_forward(
        _gated(gi, 4), _transposed(w_hh), _np(h0), _np(c0),
        out.numpy(), c_n.numpy(), _NO_SAVE, False,
    )  # fmt: skip
    return out, c_n


def _weights(rnn: nn.RNNBase, layer: int) -> list[torch.Tensor]:
    return [
        getattr(rnn, f"{name}_l{layer}")
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    ]


def _needs_grad(rnn: nn.RNNBase, *tensors: torch.Tensor) -> bool:
    """Whether to record for back-propagation; else the kernel saves no gates (inference)."""
    if not torch.is_grad_enabled():
        return False
    return any(t.requires_grad for t in tensors) or any(p.requires_grad for p in rnn.parameters())


def gru_forward(rnn: nn.GRU, x: torch.Tensor, h0: torch.Tensor | None):
    """``rnn(x, h0)`` for a batch-first ``nn.GRU``: ``(out, h_n)``."""
    if h0 is None:
        h0 = x.new_zeros(rnn.num_layers, x.shape[0], rnn.hidden_size)
    grad = _needs_grad(rnn, x, h0)
    h_n = []
    for layer in range(rnn.num_layers):
        x = _gru_layer(x, *_weights(rnn, layer), h0[layer], grad)
        h_n.append(x[:, -1])
    return x, torch.stack(h_n)


def lstm_forward(rnn: nn.LSTM, x: torch.Tensor, state):
    """``rnn(x, (h0, c0))`` for a batch-first ``nn.LSTM``: ``(out, (h_n, c_n))``."""
    if state is None:
        zeros = x.new_zeros(rnn.num_layers, x.shape[0], rnn.hidden_size)
        state = (zeros, zeros)
    h0, c0 = state
    grad = _needs_grad(rnn, x, h0, c0)
    h_n, c_n = [], []
    for layer in range(rnn.num_layers):
        x, c = _lstm_layer(x, *_weights(rnn, layer), h0[layer], c0[layer], grad)
        h_n.append(x[:, -1])
        c_n.append(c)
    return x, (torch.stack(h_n), torch.stack(c_n))
