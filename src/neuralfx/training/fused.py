"""One shard's loss and gradients without autograd, for the model the trainer builds by default.

A training step of LSTM-16 on a 16 x 128-sample chunk spends about 0.46 ms in the numba
recurrences and more than twice that in torch's per-operation overhead around them: the dense
readout, the loss's dozen small tensors, autograd's graph and its bookkeeping. For one
recurrent layer on the kernels, a dense readout (with or without the skip) and ``EffectLoss``,
``shard_grads`` here computes the same loss, gradients and end state in a few numpy calls
around the same kernels. Anything else (convolutional front ends, stacked layers, PyTorch's
own recurrences, other losses) keeps ``tbptt.shard_grads``; ``supported`` says which applies.
"""

from __future__ import annotations

import threading
import weakref

import numpy as np
import torch

from ..losses import _EPS, EffectLoss
from ..models.fast import fast_path, kernel_mode
from ..models.recurrent import RecurrentModel


def supported(model: torch.nn.Module, loss_fn: torch.nn.Module) -> bool:
    """Whether ``shard_grads`` here computes what ``tbptt.shard_grads`` would."""
    if kernel_mode() == "torch" or type(loss_fn) is not EffectLoss:
        return False
    if not isinstance(model, RecurrentModel) or len(model.convs) or model.rnn.num_layers != 1:
        return False
    if not all(p.requires_grad for p in model.parameters()):
        return False
    probe = torch.zeros(1, 1, model.in_channels)
    with torch.enable_grad():  # the kernels' training rule (LSTMs over 32 units stay on oneDNN)
        return fast_path(model.rnn, probe)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().contiguous().numpy()


_work = threading.local()  # each shard's thread has its own


def _buffer(name: str, shape: tuple[int, ...], fill: float | None = None) -> np.ndarray:
    """A float32 array kept for the next step of this thread (``fill``ed when it is new):
    the gates of a 16 x 512 chunk are megabytes, and a fresh allocation of that size costs
    page faults that took as long as the recurrence itself."""
    buffers = _work.__dict__.setdefault("buffers", {})
    a = buffers.get(name)
    if a is None or a.shape != shape:
        a = buffers[name] = np.empty(shape, np.float32)
        if fill is not None:
            a.fill(fill)
    return a


_NAMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _names(model: RecurrentModel, params) -> list[str]:
    """``params``' names in ``model``, kept between steps: walking the modules for them took
    about 2 % of a step."""
    key = tuple(map(id, params))
    cached = _NAMES.get(model)
    if cached is None or cached[0] != key:
        order = {id(p): n for n, p in model.named_parameters()}
        cached = _NAMES[model] = (key, [order[k] for k in key])
    return cached[1]


def _inputs(h0: np.ndarray, out: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(batch, time, H + 1 + inputs): what each step's gates were a product of, the state it
    started from (``W_hh``'s), a one (the biases') and the input (``W_ih``'s), so that one
    matrix product gives every weight's gradient: the biases' column sums alone took longer
    as a numpy reduction than the product."""
    hid = out.shape[-1]
    a = _buffer("inputs", (*out.shape[:2], hid + 1 + x.shape[-1]), fill=1.0)  # the ones stay
    a[:, 0, :hid], a[:, 1:, :hid] = h0, out[:, :-1]
    a[..., hid + 1 :] = x
    return a


def _products(d: np.ndarray, a: np.ndarray) -> np.ndarray:
    """(gates, columns of ``a``): the gate gradients (batch, time, gate, H) times ``a``."""
    rows = a.shape[0] * a.shape[1]
    return d.reshape(rows, -1).T @ a.reshape(rows, -1)


def shard_grads(model: RecurrentModel, loss_fn: EffectLoss, params, x, y, state, warmup: int):
    """``tbptt.shard_grads`` for a ``supported`` model: (loss, gradients in the order of
    ``params``, detached end state); the gradients None when the loss is not finite."""
    from ..models.fast import kernels

    if warmup:
        with torch.no_grad():
            _, state = model(x[:, :warmup], state)
        x, y = x[:, warmup:], y[:, warmup:]
    rnn, lstm = model.rnn, model.cell == "lstm"
    w_ih, w_hh, b_ih, b_hh = (
        _np(getattr(rnn, f"{n}_l0")) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    )
    w_d, b_d = _np(model.dense.weight), _np(model.dense.bias)
    xn, yn = _np(x), _np(y)[..., 0]
    n_batch, n_time, _ = xn.shape
    hid = w_hh.shape[1]
    rnn_state = state[1] if state is not None else None
    if rnn_state is None:
        h0 = np.zeros((n_batch, hid), np.float32)
        c0 = h0
    elif lstm:
        h0, c0 = _np(rnn_state[0][0]), _np(rnn_state[1][0])
    else:
        h0 = _np(rnn_state[0])
    out = _buffer("out", (n_batch, n_time, hid))
    w_ih_t, w_hh_t = np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T)
    if lstm:
        c_n = np.empty((n_batch, hid), np.float32)
        saved = _buffer("saved", (n_batch, n_time, 5, hid))
        kernels.lstm_forward(xn, w_ih_t, b_ih + b_hh, w_hh_t, h0, c0, out, c_n, saved, True)
        end = (None, (torch.from_numpy(out[None, :, -1].copy()), torch.from_numpy(c_n[None])))
    else:
        saved = _buffer("saved", (n_batch, n_time, 4, hid))
        kernels.gru_forward(xn, w_ih_t, b_ih, w_hh_t, b_hh, h0, out, saved, True)
        end = (None, torch.from_numpy(out[None, :, -1].copy()))
    d_out = _buffer("d_out", out.shape)
    esr, dc = loss_fn.esr, loss_fn.dc
    loss, d_w, d_b = kernels.dense_effect_loss(
        out, w_d[0], float(b_d[0]), xn, model.skip, yn, float(esr.pre.coefficient),
        loss_fn.esr_weight, esr.floor, loss_fn.dc_weight, dc.floor, _EPS, d_out,
    )  # fmt: skip
    if not np.isfinite(loss):
        return torch.tensor(loss), None, end
    by_name = {
        "dense.weight": d_w.astype(np.float32)[None],
        "dense.bias": np.array([d_b], np.float32),
    }
    a = _inputs(h0, out, xn)
    if lstm:
        d_gates = _buffer("d_gi", (n_batch, n_time, 4, hid))
        zeros = np.zeros((n_batch, hid), np.float32)
        d_h0, d_c0 = np.empty_like(zeros), np.empty_like(zeros)
        kernels.lstm_backward(d_out, zeros, w_hh_t, c0, saved, d_gates, d_h0, d_c0)
        g = _products(d_gates, a)  # the gates' gradient is that of gi and of W_hh h alike
        g_hh, g_ih = g[:, : hid + 1], g[:, hid:]
    else:
        d_gi = _buffer("d_gi", (n_batch, n_time, 3, hid))
        d_gh = _buffer("d_gh", (n_batch, n_time, 3, hid))
        d_h0 = np.empty((n_batch, hid), np.float32)
        kernels.gru_backward(d_out, w_hh_t, h0, out, saved, d_gi, d_gh, d_h0)
        g_hh, g_ih = _products(d_gh, a[..., : hid + 1]), _products(d_gi, a[..., hid:])
    name = model.cell
    by_name[f"{name}.weight_hh_l0"], by_name[f"{name}.bias_hh_l0"] = g_hh[:, :hid], g_hh[:, hid]
    by_name[f"{name}.bias_ih_l0"], by_name[f"{name}.weight_ih_l0"] = g_ih[:, 0], g_ih[:, 1:]
    # each gradient its own array (a column of the product is copied), as autograd's
    grads = [torch.from_numpy(np.ascontiguousarray(by_name[n])) for n in _names(model, params)]
    return torch.tensor(loss), grads, end
