"""Stacked GRU/LSTM layers on the numba recurrences, with ``nn.GRU``/``nn.LSTM``'s weights.

Each layer is one ``torch.autograd.Function``: the numba kernels run the layer forward and
the recurrence backward; the weight gradients are whole-sequence matrix products in torch's
BLAS; autograd carries the gradients between layers and from ``b_ih + b_hh`` to both.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import kernels


def _np(t: torch.Tensor) -> np.ndarray:
    """A numpy view (a copy only if ``t`` is not contiguous)."""
    return t.detach().contiguous().numpy()


def _transposed(w: torch.Tensor) -> np.ndarray:
    """``W_ih``/``W_hh`` (gates * H, inputs) as (inputs, gates * H), the kernels' layout."""
    return _np(w.t())


def _prev_states(h0: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """The state each step started from, (batch, time, H): what ``W_hh`` multiplied."""
    return torch.cat([h0.unsqueeze(1), out[:, :-1]], dim=1)


def _product_grad(d_gates: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """Gradient of a weight (gates, inputs) from those of the gates (batch, time, gates).

    Taken as ``(inputs^T d)^T``: torch's ``d^T inputs`` ran 2.6x slower for 32 inputs and 11x
    for 4 (65,536 steps, 128 gates, one thread).
    """
    return (inputs.flatten(0, 1).t() @ d_gates.flatten(0, 1)).t()


def _projection_grads(ctx, d_gi, x, w_ih):
    """Gradients of x, W_ih and the projection's bias (the Function's first three inputs),
    those ``ctx.needs_input_grad`` asks for. Done here rather than by autograd around an
    ``addmm``, which copied the (batch, time, gates) bias out and back."""
    need = ctx.needs_input_grad[:3]
    d_x = (d_gi @ w_ih) if need[0] else None
    d_w = _product_grad(d_gi, x) if need[1] else None
    d_b = d_gi.sum((0, 1)) if need[2] else None
    return d_x, d_w, d_b


class GRURecurrence(torch.autograd.Function):
    """``out = layer(x, W_ih, b_ih, W_hh, b_hh, h0)``; gradients for all six."""

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, w_hh, b_hh, h0):
        out, saved = _gru_run(x, w_ih, b_ih, w_hh, b_hh, h0, save=True)
        ctx.save_for_backward(x, w_ih, w_hh, h0, out, saved)
        return out

    @staticmethod
    def backward(ctx, d_out):
        x, w_ih, w_hh, h0, out, saved = ctx.saved_tensors
        n_batch, n_time, _, hid = saved.shape
        d_gi = saved.new_empty(n_batch, n_time, 3, hid)
        d_gh = torch.empty_like(d_gi)
        d_h0 = torch.empty_like(h0)
        kernels.gru_backward(
            _np(d_out), _transposed(w_hh), _np(h0), _np(out), _np(saved),
            d_gi.numpy(), d_gh.numpy(), d_h0.numpy(),
        )  # fmt: skip
        d_gi, d_gh = d_gi.flatten(2), d_gh.flatten(2)
        d_x, d_w_ih, d_b_ih = _projection_grads(ctx, d_gi, x, w_ih)
        need = ctx.needs_input_grad
        d_w_hh = _product_grad(d_gh, _prev_states(h0, out)) if need[3] else None
        d_b_hh = d_gh.sum((0, 1)) if need[4] else None
        return d_x, d_w_ih, d_b_ih, d_w_hh, d_b_hh, d_h0


class LSTMRecurrence(torch.autograd.Function):
    """``out, c_n = layer(x, W_ih, b_ih + b_hh, W_hh, h0, c0)``; gradients for all six."""

    @staticmethod
    def forward(ctx, x, w_ih, bias, w_hh, h0, c0):
        out, c_n, saved = _lstm_run(x, w_ih, bias, w_hh, h0, c0, save=True)
        ctx.save_for_backward(x, w_ih, w_hh, h0, c0, out, saved)
        return out, c_n

    @staticmethod
    def backward(ctx, d_out, d_c_n):
        x, w_ih, w_hh, h0, c0, out, saved = ctx.saved_tensors
        n_batch, n_time, _, hid = saved.shape
        d_gates = saved.new_empty(n_batch, n_time, 4, hid)
        d_h0, d_c0 = torch.empty_like(h0), torch.empty_like(c0)
        kernels.lstm_backward(
            _np(d_out), _np(d_c_n), _transposed(w_hh), _np(c0), _np(saved),
            d_gates.numpy(), d_h0.numpy(), d_c0.numpy(),
        )  # fmt: skip
        d_gates = d_gates.flatten(2)
        d_x, d_w_ih, d_bias = _projection_grads(ctx, d_gates, x, w_ih)
        d_w_hh = _product_grad(d_gates, _prev_states(h0, out)) if ctx.needs_input_grad[3] else None
        return d_x, d_w_ih, d_bias, d_w_hh, d_h0, d_c0


_NO_SAVE = np.empty((0, 0, 0, 0), np.float32)


def _gru_run(x, w_ih, b_ih, w_hh, b_hh, h0, save: bool):
    n_batch, n_time, _ = x.shape
    hid = w_hh.shape[1]
    out = x.new_empty(n_batch, n_time, hid)
    saved = x.new_empty(n_batch, n_time, 4, hid) if save else None
    kernels.gru_forward(
        _np(x), _transposed(w_ih), _np(b_ih), _transposed(w_hh), _np(b_hh), _np(h0),
        out.numpy(), saved.numpy() if save else _NO_SAVE, save,
    )  # fmt: skip
    return out, saved


def _lstm_run(x, w_ih, bias, w_hh, h0, c0, save: bool):
    n_batch, n_time, _ = x.shape
    hid = w_hh.shape[1]
    out = x.new_empty(n_batch, n_time, hid)
    c_n = x.new_empty(n_batch, hid)
    saved = x.new_empty(n_batch, n_time, 5, hid) if save else None
    kernels.lstm_forward(
        _np(x), _transposed(w_ih), _np(bias), _transposed(w_hh), _np(h0), _np(c0),
        out.numpy(), c_n.numpy(), saved.numpy() if save else _NO_SAVE, save,
    )  # fmt: skip
    return out, c_n, saved


def _gru_layer(x, w_ih, w_hh, b_ih, b_hh, h0, grad: bool):
    if grad:
        return GRURecurrence.apply(x, w_ih, b_ih, w_hh, b_hh, h0)
    return _gru_run(x, w_ih, b_ih, w_hh, b_hh, h0, save=False)[0]


def _lstm_layer(x, w_ih, w_hh, b_ih, b_hh, h0, c0, grad: bool):
    if grad:
        return LSTMRecurrence.apply(x, w_ih, b_ih + b_hh, w_hh, h0, c0)
    with torch.no_grad():
        return _lstm_run(x, w_ih, b_ih + b_hh, w_hh, h0, c0, save=False)[:2]


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
