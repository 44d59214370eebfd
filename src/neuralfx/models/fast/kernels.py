"""The numba kernels: float32 math that vectorises, and the GRU and LSTM recurrences.

All in one file on purpose: numba's on-disk cache checks only the source file of the
function it caches, so a helper or a constant in another module could change and leave a
stale compiled kernel behind.

Math. numba calls libm's scalar ``expf`` unless Intel's SVML is installed, and the gate
nonlinearities would then cost more than the matrix products of a small cell. ``fexp`` is a
range reduction to ``2**n * exp(f)``, ``|f| <= ln 2 / 2``, and a degree-7 Taylor polynomial:
relative error below 1e-7 (one float32 ulp), all in arithmetic that vectorises.

Recurrences, PyTorch's equations. The forward kernels take the layer's input itself: a
(batch, time, gates) tensor of input projections would be written and read back for little
arithmetic (audio is one input), and on this machine memory is what is short. The weight
gradients stay in torch (products of the saved gate gradients). ``gi = W_ih x + b_ih``
(for the LSTM ``+ b_hh`` too):

    GRU   r = sigmoid(gi_r + W_hr h + b_hr)      z = sigmoid(gi_z + W_hz h + b_hz)
          n = tanh(gi_n + r * (W_hn h + b_hn))   h' = (1 - z) * n + z * h
    LSTM  a = gi + W_hh h (gates i, f, g, o)
          c' = sigmoid(a_f) * c + sigmoid(a_i) * tanh(a_g)     h' = sigmoid(a_o) * tanh(c')

Gates have their own axis in the gate loops, ``(batch, time, gate, H)``: indexed by a constant
gate and the unit, every loop is unit-stride with no offset arithmetic, which LLVM vectorises
(``offset + j`` would not: numba checks it for negative wrap-around). The products with
``W_hh`` run over all gates at once, on ``w_hh_t`` = ``W_hh`` transposed, (H, gates * H):
forward as a sum of its rows scaled by the state, backward as one dot product per unit;
each is the faster form for its direction (bench/notes.md).

One sequence of the batch runs at a time, its state and the weights in L1; the GIL is
released, so the trainer's batch shards in threads run on their own cores.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.extending import intrinsic

# fused multiply-add and reassociated sums; no nnan/ninf, so a diverging run still shows NaN.
# Kernels also take error_model="numpy": Python's zero-division check would stop LLVM
# vectorising any loop that divides.
FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

_F = np.float32
_ONE, _TWO, _HALF = _F(1.0), _F(2.0), _F(0.5)
_LOG2E = _F(1.4426950408889634)
# ln 2 split so that n * _LN2_HI is exact for the n this range gives (Cody and Waite)
_LN2_HI, _LN2_LO = _F(0.693359375), _F(-2.12194440e-4)
# beyond these exp overflows or 2**n leaves the normal range; sigmoid/tanh are flat there
_X_MIN, _X_MAX = _F(-87.0), _F(88.0)
_C3, _C4, _C5, _C6, _C7 = (_F(1 / math.factorial(k)) for k in range(3, 8))


@intrinsic
def _f32_from_bits(typingctx, bits):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def fexp(x):
    x = min(max(x, _X_MIN), _X_MAX)
    n = np.floor(x * _LOG2E + _HALF)
    f = x - n * _LN2_HI - n * _LN2_LO
    p = _ONE + f * (_ONE + f * (_HALF + f * (_C3 + f * (_C4 + f * (_C5 + f * (_C6 + f * _C7))))))
    return p * _f32_from_bits(np.int32(n + _F(127.0)) << 23)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def fsigmoid(x):
    return _ONE / (_ONE + fexp(-x))


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def ftanh(x):
    return _ONE - _TWO / (fexp(_TWO * x) + _ONE)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def add_rows(acc, rows, h):
    """``acc += h @ rows``: the rows of ``rows`` (H, n) scaled by ``h`` (H,), four at a time
    (a quarter of the passes over ``acc``: 15-25% faster steps than one row at a time)."""
    hid, n = rows.shape
    k = 0
    while k + 4 <= hid:
        h0, h1, h2, h3 = h[k], h[k + 1], h[k + 2], h[k + 3]
        for j in range(n):
            acc[j] += (rows[k, j] * h0 + rows[k + 1, j] * h1) + (
                rows[k + 2, j] * h2 + rows[k + 3, j] * h3
            )
        k += 4
    for r in range(k, hid):
        hr = h[r]
        for j in range(n):
            acc[j] += rows[r, j] * hr


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def gru_forward(x, w_ih_t, b_ih, w_hh_t, b_hh, h0, out, saved, save):
    """Fill ``out`` (batch, time, H) from ``x`` (batch, time, inputs); with ``save``,
    ``saved`` (batch, time, 4, H) gets r, z, n and ``W_hn h + b_hn``.

    ``w_ih_t`` (inputs, 3H) is ``W_ih`` transposed; ``b_ih``, ``b_hh`` (3H,).
    """
    n_batch, n_time, n_in = x.shape
    hid = w_hh_t.shape[0]
    n_gates = 3 * hid
    gi_flat = np.empty(n_gates, np.float32)
    gi = gi_flat.reshape(3, hid)
    gh_flat = np.empty(n_gates, np.float32)
    gh = gh_flat.reshape(3, hid)
    h = np.empty(hid, np.float32)
    s = np.empty((4, hid), np.float32)
    for b in range(n_batch):
        h[:] = h0[b]
        # indexed in full inside the time loop: a view per step (x[b, t]) costs numba
        # reference counting that made the steps 1.4-1.7x slower
        for t in range(n_time):
            gi_flat[:] = b_ih
            for i in range(n_in):
                xi = x[b, t, i]
                for j in range(n_gates):
                    gi_flat[j] += w_ih_t[i, j] * xi
            gh_flat[:] = b_hh
            add_rows(gh_flat, w_hh_t, h)
            for j in range(hid):
                r = fsigmoid(gi[0, j] + gh[0, j])
                z = fsigmoid(gi[1, j] + gh[1, j])
                n = ftanh(gi[2, j] + r * gh[2, j])
                s[0, j] = r
                s[1, j] = z
                s[2, j] = n
                s[3, j] = gh[2, j]
                hj = n + z * (h[j] - n)
                h[j] = hj
                out[b, t, j] = hj
            if save:
                for q in range(4):
                    for j in range(hid):
                        saved[b, t, q, j] = s[q, j]


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def gru_backward(d_out, w_hh_t, h0, out, saved, d_gi, d_gh, d_h0):
    """Back-propagation through time from ``d_out`` (batch, time, H), the gradient of every
    output (the final state's included: it is the last output).

    Fills ``d_gi`` (batch, time, 3, H), the gradient of ``gi``, ``d_gh``, that of
    ``W_hh h + b_hh`` (the n rows differ: scaled by r), and ``d_h0``.
    """
    n_batch, n_time, hid = out.shape
    n_gates = 3 * hid
    dh = np.empty(hid, np.float32)
    h_prev = np.empty(hid, np.float32)
    dg_flat = np.empty(n_gates, np.float32)
    dg = dg_flat.reshape(3, hid)
    for b in range(n_batch):
        dh[:] = 0
        for t in range(n_time - 1, -1, -1):
            for j in range(hid):
                h_prev[j] = out[b, t - 1, j] if t > 0 else h0[b, j]
            for j in range(hid):
                d = dh[j] + d_out[b, t, j]
                r, z, n = saved[b, t, 0, j], saved[b, t, 1, j], saved[b, t, 2, j]
                dan = d * (_ONE - z) * (_ONE - n * n)
                daz = d * (h_prev[j] - n) * z * (_ONE - z)
                dar = dan * saved[b, t, 3, j] * r * (_ONE - r)
                d_gi[b, t, 0, j] = dar
                d_gi[b, t, 1, j] = daz
                d_gi[b, t, 2, j] = dan
                dg[0, j] = dar
                dg[1, j] = daz
                dg[2, j] = dan * r
                dh[j] = d * z
            for q in range(3):
                for j in range(hid):
                    d_gh[b, t, q, j] = dg[q, j]
            for k in range(hid):
                acc = dh[k]
                for j in range(n_gates):
                    acc += w_hh_t[k, j] * dg_flat[j]
                dh[k] = acc
        d_h0[b] = dh


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def lstm_forward(x, w_ih_t, bias, w_hh_t, h0, c0, out, c_out, saved, save):
    """Fill ``out`` (batch, time, H) and the final cells ``c_out`` (batch, H) from ``x``
    (batch, time, inputs); with ``save``, ``saved`` (batch, time, 5, H) gets the activated
    gates i, f, g, o and the cell c'. ``bias`` is ``b_ih + b_hh``; as in ``gru_forward``."""
    n_batch, n_time, n_in = x.shape
    hid = w_hh_t.shape[0]
    n_gates = 4 * hid
    a_flat = np.empty(n_gates, np.float32)
    a = a_flat.reshape(4, hid)
    h = np.empty(hid, np.float32)
    c = np.empty(hid, np.float32)
    s = np.empty((5, hid), np.float32)
    for b in range(n_batch):
        h[:] = h0[b]
        c[:] = c0[b]
        for t in range(n_time):
            a_flat[:] = bias
            for i in range(n_in):
                xi = x[b, t, i]
                for j in range(n_gates):
                    a_flat[j] += w_ih_t[i, j] * xi
            add_rows(a_flat, w_hh_t, h)
            for j in range(hid):
                i = fsigmoid(a[0, j])
                f = fsigmoid(a[1, j])
                g = ftanh(a[2, j])
                o = fsigmoid(a[3, j])
                cj = f * c[j] + i * g
                s[0, j] = i
                s[1, j] = f
                s[2, j] = g
                s[3, j] = o
                s[4, j] = cj
                c[j] = cj
                hj = o * ftanh(cj)
                h[j] = hj
                out[b, t, j] = hj
            if save:
                for q in range(5):
                    for j in range(hid):
                        saved[b, t, q, j] = s[q, j]
        c_out[b] = c


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def lstm_backward(d_out, d_c_out, w_hh_t, c0, saved, d_gates, d_h0, d_c0):
    """Back-propagation through time from ``d_out`` (batch, time, H, the final state's
    gradient included) and ``d_c_out`` (batch, H).

    Fills ``d_gates`` (batch, time, 4, H), the gradient of the pre-activations, which is that
    of ``gi`` and of ``W_hh h`` alike, and ``d_h0``, ``d_c0``.
    """
    n_batch, n_time, _, hid = d_gates.shape
    n_gates = 4 * hid
    dh = np.empty(hid, np.float32)
    dc = np.empty(hid, np.float32)
    c_prev = np.empty(hid, np.float32)
    da_flat = np.empty(n_gates, np.float32)
    da = da_flat.reshape(4, hid)
    for b in range(n_batch):
        dh[:] = 0
        dc[:] = d_c_out[b]
        for t in range(n_time - 1, -1, -1):
            for j in range(hid):
                c_prev[j] = saved[b, t - 1, 4, j] if t > 0 else c0[b, j]
            for j in range(hid):
                d = dh[j] + d_out[b, t, j]
                i, f, g, o = (
                    saved[b, t, 0, j],
                    saved[b, t, 1, j],
                    saved[b, t, 2, j],
                    saved[b, t, 3, j],
                )
                tc = ftanh(saved[b, t, 4, j])
                dcj = dc[j] + d * o * (_ONE - tc * tc)
                da[0, j] = dcj * g * i * (_ONE - i)
                da[1, j] = dcj * c_prev[j] * f * (_ONE - f)
                da[2, j] = dcj * i * (_ONE - g * g)
                da[3, j] = d * tc * o * (_ONE - o)
                dc[j] = dcj * f
            for q in range(4):
                for j in range(hid):
                    d_gates[b, t, q, j] = da[q, j]
            for k in range(hid):
                acc = np.float32(0.0)
                for j in range(n_gates):
                    acc += w_hh_t[k, j] * da_flat[j]
                dh[k] = acc
        d_h0[b] = dh
        d_c0[b] = dc


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _readout(out, w_d, b_d, x, skip, b, pred):
    """``pred`` (time,) of sequence ``b``: ``out[b] @ w_d + b_d``, plus the input with ``skip``."""
    n_time, hid = out.shape[1], out.shape[2]
    for t in range(n_time):
        p = b_d
        for j in range(hid):
            p += out[b, t, j] * w_d[j]
        if skip:
            p += x[b, t, 0]
        pred[t] = p


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy", inline="always")
def _residuals(pred, y, b, pre, res):
    """``res`` (time + 1,): the pre-emphasised residual at each step (0 where the filter
    has no previous sample, and past the end)."""
    n_time = len(pred)
    res[n_time] = 0.0
    if pre == 0.0:
        for t in range(n_time):
            res[t] = y[b, t] - pred[t]
        return
    res[0] = 0.0
    for t in range(1, n_time):
        res[t] = (y[b, t] - pre * y[b, t - 1]) - (pred[t] - pre * pred[t - 1])


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def dense_effect_loss(out, w_d, b_d, x, skip, y, pre, esr_w, esr_floor, dc_w, dc_floor, eps, d_out):
    """The dense readout and ``losses.EffectLoss`` of its (batch, time) prediction, forward
    and back, in two passes over ``out`` (batch, time, H) instead of a dozen numpy arrays.

    ``pred = out @ w_d + b_d`` (``+ x[..., 0]`` with ``skip``) against ``y`` (batch, time);
    ``pre`` is the pre-emphasis coefficient, ``eps`` the losses' guard of a zero
    denominator. Returns the loss and the readout's weight (H,) and bias gradients, and
    fills ``d_out`` with the loss's gradient with respect to ``out``. Sums run in float64.
    """
    n_batch, n_time, hid = out.shape
    pred = np.empty(n_time, np.float32)
    res = np.empty((n_batch, n_time + 1), np.float64)  # kept for the backward pass
    first = 0 if pre == 0.0 else 1
    sum_rr, sum_tt, sum_yy, sum_dd = 0.0, 0.0, 0.0, 0.0
    diff = np.empty(n_batch, np.float64)
    for b in range(n_batch):
        _readout(out, w_d, b_d, x, skip, b, pred)
        _residuals(pred, y, b, pre, res[b])
        s_d = 0.0
        for t in range(n_time):
            s_d += y[b, t] - pred[t]
            sum_yy += y[b, t] * y[b, t]
            sum_rr += res[b, t] * res[b, t]
        for t in range(first, n_time):
            tp = y[b, t] - pre * y[b, t - 1] if first else y[b, t]
            sum_tt += tp * tp
        diff[b] = s_d / n_time
        sum_dd += diff[b] * diff[b]
    den = sum_tt + esr_floor * (n_batch * (n_time - first)) + eps
    den_dc = sum_yy / (n_batch * n_time) + dc_floor + eps
    loss = esr_w * sum_rr / den
    if dc_w != 0.0:
        loss += dc_w * (sum_dd / n_batch) / den_dc
    d_w = np.zeros(hid, np.float64)
    d_b = 0.0
    scale_esr = -2.0 * esr_w / den
    scale_dc = -2.0 * dc_w / (den_dc * n_batch * n_time)
    for b in range(n_batch):
        for t in range(n_time):  # the residual at t and, through the filter, at t + 1
            g = scale_dc * diff[b] + scale_esr * (res[b, t] - pre * res[b, t + 1])
            gf = np.float32(g)
            for j in range(hid):
                d_out[b, t, j] = gf * w_d[j]
                d_w[j] += g * out[b, t, j]
            d_b += g
    return loss, d_w, d_b
