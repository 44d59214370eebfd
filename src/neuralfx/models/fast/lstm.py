"""numba kernels of one LSTM layer's recurrence, PyTorch's equations (gates i, f, g, o):

    a = gi + W_hh h   (gi = x W_ih^T + b_ih + b_hh, one product over the sequence, in torch)
    c' = sigmoid(a_f) * c + sigmoid(a_i) * tanh(a_g)     h' = sigmoid(a_o) * tanh(c')

Layout and threading as in ``gru``: one sequence at a time, GIL released.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .mathfns import FASTMATH, fsigmoid, ftanh

_ONE = np.float32(1.0)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def lstm_forward(gi, w_hh_t, h0, c0, out, c_out, saved, save):
    """Fill ``out`` (batch, time, H) and the final cells ``c_out`` (batch, H); with ``save``,
    ``saved`` (batch, time, 5H) gets the activated gates i, f, g, o and the cell c'."""
    n_batch, n_time, n_gates = gi.shape
    hid = n_gates // 4
    a = np.empty(n_gates, np.float32)
    h = np.empty(hid, np.float32)
    c = np.empty(hid, np.float32)
    scratch = np.empty(5 * hid, np.float32)
    for b in range(n_batch):
        h[:] = h0[b]
        c[:] = c0[b]
        for t in range(n_time):
            a[:] = gi[b, t]
            for k in range(hid):
                hk = h[k]
                for j in range(n_gates):
                    a[j] += w_hh_t[k, j] * hk
            s = saved[b, t] if save else scratch
            for j in range(hid):
                i = fsigmoid(a[j])
                f = fsigmoid(a[hid + j])
                g = ftanh(a[2 * hid + j])
                o = fsigmoid(a[3 * hid + j])
                cj = f * c[j] + i * g
                s[j] = i
                s[hid + j] = f
                s[2 * hid + j] = g
                s[3 * hid + j] = o
                s[4 * hid + j] = cj
                c[j] = cj
                h[j] = o * ftanh(cj)
            out[b, t] = h
        c_out[b] = c


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def lstm_backward(d_out, d_c_out, w_hh, c0, saved, d_gates, d_h0, d_c0):
    """Back-propagation through time from ``d_out`` (batch, time, H, the final state's
    gradient included) and ``d_c_out`` (batch, H).

    Fills ``d_gates`` (batch, time, 4H), the gradient of the pre-activations, which is that
    of ``gi`` and of ``W_hh h`` alike, and ``d_h0``, ``d_c0``.
    """
    n_batch, n_time, n_gates = d_gates.shape
    hid = n_gates // 4
    dh = np.empty(hid, np.float32)
    dc = np.empty(hid, np.float32)
    for b in range(n_batch):
        dh[:] = 0
        dc[:] = d_c_out[b]
        for t in range(n_time - 1, -1, -1):
            s, dgo, da = saved[b, t], d_out[b, t], d_gates[b, t]
            c_prev = saved[b, t - 1, 4 * hid :] if t > 0 else c0[b]
            for j in range(hid):
                d = dh[j] + dgo[j]
                i, f, g, o, cj = s[j], s[hid + j], s[2 * hid + j], s[3 * hid + j], s[4 * hid + j]
                tc = ftanh(cj)
                dcj = dc[j] + d * o * (_ONE - tc * tc)
                da[j] = dcj * g * i * (_ONE - i)
                da[hid + j] = dcj * c_prev[j] * f * (_ONE - f)
                da[2 * hid + j] = dcj * i * (_ONE - g * g)
                da[3 * hid + j] = d * tc * o * (_ONE - o)
                dc[j] = dcj * f
                dh[j] = 0
            for j in range(n_gates):
                gj = da[j]
                for k in range(hid):
                    dh[k] += w_hh[j, k] * gj
        d_h0[b] = dh
        d_c0[b] = dc
