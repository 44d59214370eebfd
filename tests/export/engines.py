"""Independent readers for the tests: numpy forward passes from a file's own numbers (float64),
written from each engine's equations and file layout, never through neuralfx's torch models.

RTNeural JSON (json_parser::parseJson): dense kernel (in, out) + optional bias; conv1d kernel
(K, in/groups, out), tap k looking (K-1-k)*dilation back; lstm kernel (in, 4H), recurrent
(H, 4H), bias (4H), gates i f c o; gru kernel (in, 3H), recurrent (H, 3H), bias (2, 3H), gates
z r h with the candidate tanh(W_h x + b0_h + r (U_h h + b1_h)); prelu [[alpha...]]; batchnorm
[gamma, beta,] mean, var + epsilon. AIDA-X: x *= in_gain; y = net(x) (+ x); y *= out_gain, after
2048 samples of silence. NAM LSTM: flat weights, per layer [W_ih | W_hh] rows, b, h0, c0; head.
"""

from __future__ import annotations

import numpy as np


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


ACT = {
    "tanh": np.tanh,
    "relu": lambda v: np.maximum(v, 0.0),
    "sigmoid": sigmoid,
    "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0.0))),
    "softmax": lambda v: (
        np.exp(v - v.max(-1, keepdims=True))
        / np.exp(v - v.max(-1, keepdims=True)).sum(-1, keepdims=True)
    ),
}


def _lstm(h, w, u, b, h0=None, c0=None):
    n = u.shape[0]
    hs = np.zeros(n) if h0 is None else np.asarray(h0, np.float64)
    c = np.zeros(n) if c0 is None else np.asarray(c0, np.float64)
    out = np.empty((len(h), n))
    for t in range(len(h)):
        g = h[t] @ w + hs @ u + b
        c = sigmoid(g[n : 2 * n]) * c + sigmoid(g[:n]) * np.tanh(g[2 * n : 3 * n])
        hs = sigmoid(g[3 * n :]) * np.tanh(c)
        out[t] = hs
    return out


def _gru(h, w, u, b):
    n = u.shape[0]
    hs, out = np.zeros(n), np.empty((len(h), n))
    for t in range(len(h)):
        a, r_ = h[t] @ w + b[0], hs @ u + b[1]
        z, r = sigmoid(a[:n] + r_[:n]), sigmoid(a[n : 2 * n] + r_[n : 2 * n])
        hs = (1 - z) * np.tanh(a[2 * n :] + r * r_[2 * n :]) + z * hs
        out[t] = hs
    return out


def _conv(h, layer, w):
    k_size, dil = layer["kernel_size"][-1], layer["dilation"][-1]
    groups = layer.get("groups", 1)
    kernel, bias = w
    fpg, cpg = kernel.shape[1], kernel.shape[2] // groups
    padded = np.vstack([np.zeros(((k_size - 1) * dil, h.shape[1])), h])
    out = np.tile(bias, (len(h), 1))
    for o in range(kernel.shape[2]):
        g0 = (o // cpg) * fpg
        for k in range(k_size):
            out[:, o] += padded[k * dil : k * dil + len(h), g0 : g0 + fpg] @ kernel[k, :, o]
    return out


def rtneural_forward(d: dict, x: np.ndarray) -> np.ndarray:
    """RTNeural's parseJson model from reset, run over x: ``(time,)``, or ``(time, inputs)``
    for a multi-input model (the audio, then the knobs); one output."""
    h = np.asarray(x, np.float64)
    h = h[:, None] if h.ndim == 1 else h
    assert h.shape[1] == d["in_shape"][-1]
    for layer in d["layers"]:
        w = [np.asarray(a, dtype=np.float64) for a in layer["weights"]]
        kind = layer["type"]
        if kind in ("dense", "time-distributed-dense"):
            h = h @ w[0] + (w[1] if len(w) > 1 else 0.0)
        elif kind == "conv1d":
            h = _conv(h, layer, w)
        elif kind == "lstm":
            h = _lstm(h, *w)
        elif kind == "gru":
            h = _gru(h, *w)
        elif kind == "prelu":
            h = np.where(h >= 0, h, h * w[0][0])
        elif kind == "batchnorm":
            gamma, beta = (w[0], w[1]) if len(w) == 4 else (1.0, 0.0)
            h = gamma * (h - w[-2]) / np.sqrt(w[-1] + layer["epsilon"]) + beta
        elif kind != "activation":
            raise AssertionError(f"unexpected layer {kind}")
        if layer.get("activation"):
            h = ACT[layer["activation"]](h)
    return h[:, 0]


def aidax_forward(d: dict, x: np.ndarray) -> np.ndarray:
    """What AIDA-X plays: gains, in_skip, and 2048 samples of silence after loading. With
    ``x`` of shape ``(time, 1 + N)`` the inputs are {audio, PARAM1[, PARAM2]}; in_gain and the
    skip touch the audio only, and the silence holds the knobs at their first values."""
    gain = {k: 10.0 ** (d.get(k, 0.0) / 20.0) for k in ("in_gain", "out_gain")}
    x = np.asarray(x, np.float64)
    x = x[:, None] if x.ndim == 1 else x
    warm = np.zeros((2048, x.shape[1]))
    warm[:, 1:] = x[0, 1:]
    xx = np.vstack([warm, x])
    xx[:, 0] *= gain["in_gain"]
    y = rtneural_forward(d, xx) + (xx[:, 0] if d.get("in_skip", 0) == 1 else 0.0)
    return (y * gain["out_gain"])[2048:]


def nam_forward(d: dict, x: np.ndarray) -> np.ndarray:
    """NAM's LSTM from the file's initial state (NeuralAmpModelerCore lstm.cpp order)."""
    cfg, flat = d["config"], np.asarray(d["weights"], np.float64)
    n, i, h = cfg["hidden_size"], 0, np.asarray(x, np.float64)[:, None]
    for layer in range(cfg["num_layers"]):
        n_in = cfg["input_size"] if layer == 0 else n
        wx = flat[i : i + 4 * n * (n_in + n)].reshape(4 * n, n_in + n)
        i += wx.size
        b, h0, c0 = flat[i : i + 4 * n], flat[i + 4 * n : i + 5 * n], flat[i + 5 * n : i + 6 * n]
        i += 6 * n
        h = _lstm(h, wx[:, :n_in].T, wx[:, n_in:].T, b, h0, c0)
    assert len(flat) == i + n + 1
    return h @ flat[i : i + n] + flat[i + n]
