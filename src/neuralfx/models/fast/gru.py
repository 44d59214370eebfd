"""numba kernels of one GRU layer's recurrence, PyTorch's equations.

The input projection ``gi = x W_ih^T + b_ih`` is one matrix product over the whole sequence
and stays in torch; these loops do what cannot be batched over time:

    r = sigmoid(gi_r + W_hr h + b_hr)      z = sigmoid(gi_z + W_hz h + b_hz)
    n = tanh(gi_n + r * (W_hn h + b_hn))   h' = (1 - z) * n + z * h

Each sequence of the batch runs to the end before the next starts, so its state and the
weights stay in L1; the GIL is released, so batch shards in threads run on their own cores.
Weight gradients are one matrix product of the saved gate gradients, done in torch.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .mathfns import FASTMATH, fsigmoid, ftanh

_ONE = np.float32(1.0)


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def gru_forward(gi, w_hh_t, b_hh, h0, out, saved, save):
    """Fill ``out`` (batch, time, H); with ``save``, ``saved`` gets r, z, n, W_hn h + b_hn.

    ``gi`` (batch, time, 3H), ``w_hh_t`` (H, 3H) is ``W_hh`` transposed so that the product
    is a sum of contiguous rows scaled by one state value each: one vector op per row.
    """
    n_batch, n_time, n_gates = gi.shape
    hid = n_gates // 3
    gh = np.empty(n_gates, np.float32)
    h = np.empty(hid, np.float32)
    scratch = np.empty(4 * hid, np.float32)
    for b in range(n_batch):
        h[:] = h0[b]
        for t in range(n_time):
            gh[:] = b_hh
            for k in range(hid):
                hk = h[k]
                for j in range(n_gates):
                    gh[j] += w_hh_t[k, j] * hk
            g = gi[b, t]
            s = saved[b, t] if save else scratch
            for j in range(hid):
                r = fsigmoid(g[j] + gh[j])
                z = fsigmoid(g[hid + j] + gh[hid + j])
                hn = gh[2 * hid + j]
                n = ftanh(g[2 * hid + j] + r * hn)
                s[j] = r
                s[hid + j] = z
                s[2 * hid + j] = n
                s[3 * hid + j] = hn
                h[j] = n + z * (h[j] - n)
            out[b, t] = h


@njit(cache=True, nogil=True, fastmath=FASTMATH)
def gru_backward(d_out, w_hh, h0, out, saved, d_gi, d_gh, d_h0):
    """Back-propagation through time from ``d_out`` (batch, time, H), the gradient of every
    output (the final state's included: it is the last output).

    Fills ``d_gi`` (gradient of ``gi``), ``d_gh`` (of ``W_hh h + b_hh``; differs from
    ``d_gi`` in the n rows, scaled by r) and ``d_h0``.
    """
    n_batch, n_time, hid = out.shape
    n_gates = 3 * hid
    dh = np.empty(hid, np.float32)
    for b in range(n_batch):
        dh[:] = 0
        for t in range(n_time - 1, -1, -1):
            h_prev = out[b, t - 1] if t > 0 else h0[b]
            s, dgo, dgi, dgh = saved[b, t], d_out[b, t], d_gi[b, t], d_gh[b, t]
            for j in range(hid):
                d = dh[j] + dgo[j]
                r, z, n, hn = s[j], s[hid + j], s[2 * hid + j], s[3 * hid + j]
                dan = d * (_ONE - z) * (_ONE - n * n)
                daz = d * (h_prev[j] - n) * z * (_ONE - z)
                dar = dan * hn * r * (_ONE - r)
                dgi[j] = dar
                dgi[hid + j] = daz
                dgi[2 * hid + j] = dan
                dgh[j] = dar
                dgh[hid + j] = daz
                dgh[2 * hid + j] = dan * r
                dh[j] = d * z
            for j in range(n_gates):
                gj = dgh[j]
                for k in range(hid):
                    dh[k] += w_hh[j, k] * gj
        d_h0[b] = dh
