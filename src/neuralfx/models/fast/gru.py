"""numba kernels of one GRU layer's recurrence, PyTorch's equations.

The input projection ``gi = x W_ih^T + b_ih`` is one matrix product over the whole sequence
and stays in torch; these loops do what cannot be batched over time:

    r = sigmoid(gi_r + W_hr h + b_hr)      z = sigmoid(gi_z + W_hz h + b_hz)
    n = tanh(gi_n + r * (W_hn h + b_hn))   h' = (1 - z) * n + z * h

Gates have their own axis in the gate loops, ``(batch, time, gate, H)``: indexed by a constant
gate and the unit, every loop is unit-stride with no offset arithmetic, which LLVM vectorises
(``offset + j`` would not: numba checks it for negative wrap-around). The products with
``W_hh`` run over all gates at once, on ``w_hh_t`` = ``W_hh`` transposed, (H, 3H): forward as a
sum of its rows scaled by the state, backward as one dot product per unit; each is the
faster of the two forms for its direction (bench/notes.md).

One sequence of the batch runs at a time, its state and the weights in L1; the GIL is
released, so the trainer's batch shards in threads run on their own cores.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .mathfns import FASTMATH, add_rows, fsigmoid, ftanh

_ONE = np.float32(1.0)


@njit(cache=True, nogil=True, fastmath=FASTMATH, error_model="numpy")
def gru_forward(gi, w_hh_t, b_hh, h0, out, saved, save):
    """Fill ``out`` (batch, time, H); with ``save``, ``saved`` (batch, time, 4, H) gets
    r, z, n and ``W_hn h + b_hn``. ``gi`` (batch, time, 3, H), ``b_hh`` (3H,)."""
    n_batch, n_time, _, hid = gi.shape
    n_gates = 3 * hid
    gh_flat = np.empty(n_gates, np.float32)
    gh = gh_flat.reshape(3, hid)
    h = np.empty(hid, np.float32)
    scratch = np.empty((4, hid), np.float32)
    for b in range(n_batch):
        h[:] = h0[b]
        for t in range(n_time):
            gh_flat[:] = b_hh
            add_rows(gh_flat, w_hh_t, h)
            g = gi[b, t]
            s = saved[b, t] if save else scratch
            for j in range(hid):
                r = fsigmoid(g[0, j] + gh[0, j])
                z = fsigmoid(g[1, j] + gh[1, j])
                n = ftanh(g[2, j] + r * gh[2, j])
                s[0, j] = r
                s[1, j] = z
                s[2, j] = n
                s[3, j] = gh[2, j]
                h[j] = n + z * (h[j] - n)
            out[b, t] = h


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
    for b in range(n_batch):
        dh[:] = 0
        for t in range(n_time - 1, -1, -1):
            h_prev = out[b, t - 1] if t > 0 else h0[b]
            s, dgo, dgi, dgh = saved[b, t], d_out[b, t], d_gi[b, t], d_gh[b, t]
            for j in range(hid):
                d = dh[j] + dgo[j]
                r, z, n = s[0, j], s[1, j], s[2, j]
                dan = d * (_ONE - z) * (_ONE - n * n)
                daz = d * (h_prev[j] - n) * z * (_ONE - z)
                dar = dan * s[3, j] * r * (_ONE - r)
                dgi[0, j] = dar
                dgi[1, j] = daz
                dgi[2, j] = dan
                dgh[0, j] = dar
                dgh[1, j] = daz
                dgh[2, j] = dan * r
                dh[j] = d * z
            dgh_flat = dgh.reshape(n_gates)
            for k in range(hid):
                acc = dh[k]
                for j in range(n_gates):
                    acc += w_hh_t[k, j] * dgh_flat[j]
                dh[k] = acc
        d_h0[b] = dh
