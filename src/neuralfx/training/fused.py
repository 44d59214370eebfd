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


def _buffer(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A float32 array kept for the next step of this thread: the gates of a 16 x 512 chunk
    are megabytes, and a fresh allocation of that size costs page faults that took as long
    as the recurrence itself."""
    buffers = _work.__dict__.setdefault("buffers", {})
    a = buffers.get(name)
    if a is None or a.shape != shape:
        a = buffers[name] = np.empty(shape, np.float32)
    return a


def effect_loss(loss_fn: EffectLoss, pred: np.ndarray, target: np.ndarray):
    """``loss_fn`` of (batch, time) arrays, and its gradient with respect to ``pred`` (None
    when the loss is not finite)."""
    a = loss_fn.esr.pre.coefficient
    if a:
        p, t = pred[:, 1:] - a * pred[:, :-1], target[:, 1:] - a * target[:, :-1]
    else:
        p, t = pred, target
    r = t - p
    den = float(np.sum(t * t)) + loss_fn.esr.floor * t.size + _EPS
    loss = loss_fn.esr_weight * float(np.sum(r * r)) / den
    if loss_fn.dc_weight:
        diff = np.mean(target - pred, axis=1)  # (batch,)
        den_dc = float(np.mean(target * target)) + loss_fn.dc.floor + _EPS
        loss += loss_fn.dc_weight * float(np.mean(diff * diff)) / den_dc
    if not np.isfinite(loss):
        return loss, None
    grad = np.zeros_like(pred)
    g = r * np.float32(-2.0 * loss_fn.esr_weight / den)  # d loss / d p
    if a:
        grad[:, 1:] += g
        grad[:, :-1] -= a * g
    else:
        grad += g
    if loss_fn.dc_weight:
        scale = -2.0 * loss_fn.dc_weight / (den_dc * pred.shape[0] * pred.shape[1])
        grad += (diff * np.float32(scale))[:, None]
    return loss, grad


def _product(d: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """A weight's gradient (gates, inputs) from the gates' (batch, time, gates)."""
    return (inputs.reshape(-1, inputs.shape[-1]).T @ d.reshape(-1, d.shape[-1])).T


def _previous(h0: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The state each step started from, what ``W_hh`` multiplied."""
    prev = _buffer("prev", out.shape)
    prev[:, 0], prev[:, 1:] = h0, out[:, :-1]
    return prev


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
    pred = np.matmul(out, w_d[0], out=_buffer("pred", out.shape[:2]))
    pred += b_d[0]
    if model.skip:
        pred = pred + xn[..., 0]
    with np.errstate(all="ignore"):  # a non-finite target shows as the loss, not a warning
        loss, d_pred = effect_loss(loss_fn, pred, yn)
    if d_pred is None:
        return torch.tensor(loss), None, end
    d_out = np.multiply(d_pred[..., None], w_d[0], out=_buffer("d_out", out.shape))
    by_name = {
        "dense.weight": (d_pred.reshape(1, -1) @ out.reshape(-1, hid)),
        "dense.bias": np.array([d_pred.sum()], np.float32),
    }
    prev = _previous(h0, out)
    if lstm:
        d_gates = _buffer("d_gi", (n_batch, n_time, 4, hid))
        zeros = np.zeros((n_batch, hid), np.float32)
        d_h0, d_c0 = np.empty_like(zeros), np.empty_like(zeros)
        kernels.lstm_backward(d_out, zeros, w_hh_t, c0, saved, d_gates, d_h0, d_c0)
        d_gi = d_gh = d_gates.reshape(n_batch, n_time, -1)
    else:
        d_gi = _buffer("d_gi", (n_batch, n_time, 3, hid))
        d_gh = _buffer("d_gh", (n_batch, n_time, 3, hid))
        d_h0 = np.empty((n_batch, hid), np.float32)
        kernels.gru_backward(d_out, w_hh_t, h0, out, saved, d_gi, d_gh, d_h0)
        d_gi, d_gh = d_gi.reshape(n_batch, n_time, -1), d_gh.reshape(n_batch, n_time, -1)
    name = model.cell
    by_name[f"{name}.weight_ih_l0"] = _product(d_gi, xn)
    by_name[f"{name}.weight_hh_l0"] = _product(d_gh, prev)
    by_name[f"{name}.bias_ih_l0"] = d_gi.sum((0, 1))
    by_name[f"{name}.bias_hh_l0"] = d_gh.sum((0, 1)).copy()  # its own array, as autograd's
    order = {id(p): n for n, p in model.named_parameters()}
    grads = [torch.from_numpy(np.ascontiguousarray(by_name[order[id(p)]])) for p in params]
    return torch.tensor(loss), grads, end
