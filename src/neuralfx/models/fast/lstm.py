"""numba kernels of one LSTM layer's recurrence, PyTorch's equations (gates i, f, g, o):

    a = gi + W_hh h   (gi = x W_ih^T + b_ih + b_hh, one product over the sequence, in torch)
    c' = sigmoid(a_f) * c + sigmoid(a_i) * tanh(a_g)     h' = sigmoid(a_o) * tanh(c')

Layouts, the two product forms and threading as in ``gru``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .mathfns import FASTMATH, add_rows, fsigmoid, ftanh

_ONE = np.float32(1.0)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def lstm_forward(gi, w_hh_t, h0, c0, out, c_out, saved, save):
    """Fill ``out`` (batch, time, H) and the final cells ``c_out`` (batch, H); with ``save``,
    ``saved`` (batch, time, 5, H) gets the activated gates i, f, g, o and the cell c'.
    ``gi`` (batch, time, 4, H)."""
    n_batch, n_time, _, hid = gi.shape
    n_gates = 4 * hid
    a_flat = np.empty(n_gates, np.float32)
    a = a_flat.reshape(4, hid)
    h = np.empty(hid, np.float32)
    c = np.empty(hid, np.float32)
    scratch = np.empty((5, hid), np.float32)
    for b in range(n_batch):
        h[:] = h0[b]
        c[:] = c0[b]
        for t in range(n_time):
            a[:] = gi[b, t]
            add_rows(a_flat, w_hh_t, h)
            s = saved[b, t] if save else scratch
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
                h[j] = o * ftanh(cj)
            out[b, t] = h
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
    for b in range(n_batch):
        dh[:] = 0
        dc[:] = d_c_out[b]
        for t in range(n_time - 1, -1, -1):
            s, dgo, da = saved[b, t], d_out[b, t], d_gates[b, t]
            c_prev = saved[b, t - 1, 4] if t > 0 else c0[b]
            for j in range(hid):
                d = dh[j] + dgo[j]
                i, f, g, o = s[0, j], s[1, j], s[2, j], s[3, j]
                tc = ftanh(s[4, j])
                dcj = dc[j] + d * o * (_ONE - tc * tc)
                da[0, j] = dcj * g * i * (_ONE - i)
                da[1, j] = dcj * c_prev[j] * f * (_ONE - f)
                da[2, j] = dcj * i * (_ONE - g * g)
                da[3, j] = d * tc * o * (_ONE - o)
                dc[j] = dcj * f
            da_flat = da.reshape(n_gates)
            for k in range(hid):
                acc = np.float32(0.0)
                for j in range(n_gates):
                    acc += w_hh_t[k, j] * da_flat[j]
                dh[k] = acc
        d_h0[b] = dh
        d_c0[b] = dc
