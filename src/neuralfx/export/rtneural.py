"""Any sequential RTNeural Keras-style JSON, including AIDA-X's, as a ``SequentialModel``.

Reads what ``RTNeural::json_parser::parseJson`` reads (dense and time-distributed-dense with or
without activation, conv1d, lstm, gru, prelu, batchnorm, activation layers tanh, relu, sigmoid,
softmax, elu) with its weight layouts (see ``native.py``), and refuses what it would skip or
crash on, naming the layer. AIDA-X adds top-level ``in_skip`` (0/1), ``in_gain``/``out_gain``
(dB) and a ``metadata`` object (``samplerate`` as a string), and after loading it runs 2048
samples of silence through the model; files that carry any of those keys get that warm-up.
A file of 2 or 3 inputs is AIDA-X's knob model: the signal, then PARAM1 (and PARAM2) in 0..1.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..data.knobs import MAX_KNOBS
from ..models.sequential import (
    ACTIVATIONS,
    Activation,
    BatchNorm,
    Conv1d,
    Dense,
    PReLU,
    Recurrent,
    SequentialModel,
)
from .native import META_KEY, NO_ACTIVATION, _Reader, _swap_rz

AIDAX_KEYS = ("in_skip", "in_gain", "out_gain", "metadata")
AIDAX_WARMUP_SAMPLES = 2048  # loadModelFromStream's pre-buffer of zeros
MAX_WIDTH = 4096
MAX_LAYERS = 64
MAX_HISTORY_SAMPLES = 1 << 20
LAYER_TYPES = "dense, conv1d, lstm, gru, prelu, batchnorm, activation"


def db_to_gain(db: float) -> float:
    """AIDA-X's DB_CO: 10^(dB/20), and silence at -90 dB or below."""
    return 10.0 ** (db / 20.0) if db > -90.0 else 0.0


def is_aidax(d: dict[str, Any]) -> bool:
    meta = d.get(META_KEY)
    if isinstance(meta, dict) and meta.get("format") == "aidax":
        return True
    return META_KEY not in d and any(k in d for k in AIDAX_KEYS)


def _number(d: dict, key: str, r: _Reader) -> float | None:
    if key not in d:
        return None
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise r.fail(f"{key!r} is {v!r}; expected a number")
    return float(v)


def _activation(layer: dict, width: int, what: str, r: _Reader, required: bool = False):
    act = layer.get("activation", "")
    if act in NO_ACTIVATION and not required:
        return None
    if not isinstance(act, str) or act not in ACTIVATIONS:
        raise r.fail(
            f"{what} has activation {act!r}, which RTNeural's parseJson does not build; "
            f"it knows {', '.join(ACTIVATIONS)}"
        )
    return Activation(act, width)


def _rnn(cell: str, w, u, b, hidden: int) -> nn.Module:
    mod = (nn.LSTM if cell == "lstm" else nn.GRU)(w.shape[0], hidden, batch_first=True)
    if cell == "lstm":
        p = [w.T, u.T, b, torch.zeros_like(b)]
    else:
        p = [_swap_rz(w.T, hidden), _swap_rz(u.T, hidden)]
        p += [_swap_rz(b[0], hidden), _swap_rz(b[1], hidden)]
    with torch.no_grad():
        for name, t in zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"), p):
            getattr(mod, name).copy_(t)
    mod.requires_grad_(False)
    return mod


def _layer(layer: dict, i: int, width: int, r: _Reader) -> list[nn.Module]:
    kind = layer["type"]
    what = f"layer {i} ({kind})"
    dims = r.width(layer, what)
    if dims > MAX_WIDTH:
        raise r.fail(f"{what} has width {dims}; neuralfx runs layers of up to {MAX_WIDTH}")
    if kind in ("dense", "time-distributed-dense"):
        n = len(layer.get("weights", [])) if isinstance(layer.get("weights"), list) else 0
        specs = [("kernel", [width, dims])] + ([("bias", [dims])] if n == 2 else [])
        ws = r.weights(layer, what, specs)
        out = [Dense(ws[0], ws[1] if len(ws) == 2 else None)]
        act = _activation(layer, dims, what, r)
        return out + ([act] if act else [])
    if kind == "conv1d":
        k = r.scalar(layer, "kernel_size", what)
        dil = r.scalar(layer, "dilation", what)
        groups = layer.get("groups", 1)
        if not isinstance(groups, int) or groups < 1 or width % groups or dims % groups:
            raise r.fail(f"{what} 'groups' is {groups!r}; it must divide {width} and {dims}")
        if (k - 1) * dil > MAX_HISTORY_SAMPLES:
            raise r.fail(f"{what} looks back {(k - 1) * dil} samples; the limit is 2^20")
        w, b = r.weights(layer, what, [("kernel", [k, width // groups, dims]), ("bias", [dims])])
        out = [Conv1d(w.permute(2, 1, 0).contiguous(), b, dil, groups)]
        act = _activation(layer, dims, what, r)
        return out + ([act] if act else [])
    if kind in ("lstm", "gru"):
        g = (4 if kind == "lstm" else 3) * dims
        bias = [g] if kind == "lstm" else [2, g]
        specs = [("kernel", [width, g]), ("recurrent kernel", [dims, g]), ("bias", bias)]
        w, u, b = r.weights(layer, what, specs)
        return [Recurrent(kind, _rnn(kind, w, u, b, dims))]
    if dims != width:
        raise r.fail(f"{what} has width {dims} but its input is {width}")
    if kind == "activation":
        return [_activation(layer, dims, what, r, required=True)]
    if kind == "prelu":
        ws = r.key(layer, "weights", what)
        first = ws[0] if isinstance(ws, list) and ws and isinstance(ws[0], list) else None
        one = bool(first) and isinstance(first[0], list) and len(first[0]) == 1
        (alpha,) = r.weights(layer, what, [("alpha", [1, 1 if one else dims])])
        return [PReLU(alpha[0], dims)]
    if kind == "batchnorm":
        eps = _number(layer, "epsilon", r)
        if eps is None or eps < 0:
            raise r.fail(f"{what} needs a non-negative 'epsilon'")
        n = len(layer.get("weights", [])) if isinstance(layer.get("weights"), list) else 0
        names = ["gamma", "beta", "mean", "variance"] if n == 4 else ["mean", "variance"]
        ws = r.weights(layer, what, [(name, [dims]) for name in names])
        gamma, beta = (ws[0], ws[1]) if n == 4 else (torch.ones(dims), torch.zeros(dims))
        mean, var = ws[-2], ws[-1]
        if (var + eps <= 0).any():
            raise r.fail(f"{what} has a variance + epsilon <= 0")
        return [BatchNorm(mean, var, gamma, beta, eps)]
    raise r.fail(f"{what} is a layer neuralfx cannot run; it runs {LAYER_TYPES}")


def read_layers(d: dict[str, Any], r: _Reader) -> list[nn.Module]:
    in_shape = r.key(d, "in_shape", "the file")
    if not isinstance(in_shape, list) or not in_shape or not isinstance(in_shape[-1], int):
        raise r.fail(f"'in_shape' is {in_shape!r}; expected a list ending in the input size")
    if isinstance(in_shape[-1], bool) or not 1 <= in_shape[-1] <= 1 + MAX_KNOBS:
        raise r.fail(
            f"takes {in_shape[-1]} inputs; neuralfx renders the signal and up to {MAX_KNOBS} "
            f"knobs (AIDA-X: PARAM1, PARAM2): 'in_shape' [null, null, 1] to [null, null, 4]"
        )
    layers = r.key(d, "layers", "the file")
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        raise r.fail(f"'layers' must be a list of 1 to {MAX_LAYERS} layers")
    out: list[nn.Module] = []
    width = in_shape[-1]
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
            raise r.fail(f"layer {i} is not a JSON object with a 'type' string")
        out += _layer(layer, i, width, r)
        width = out[-1].width
    if width != 1:
        raise r.fail(f"the last layer has width {width}; a mono effect model ends in width 1")
    return out


def _sample_rate(meta: Any, r: _Reader) -> int | None:
    """AIDA-X's trainer writes ``"samplerate": "48000"`` (a string); accept a number too."""
    if not isinstance(meta, dict) or "samplerate" not in meta:
        return None
    v = meta["samplerate"]
    try:
        rate = float(v)
    except (TypeError, ValueError):
        rate = -1.0
    if not (math.isfinite(rate) and rate == int(rate) and 1000 <= rate <= 768000):
        raise r.fail(f"metadata 'samplerate' is {v!r}; expected a rate in Hz such as \"48000\"")
    return int(rate)


def from_rtneural_dict(d: dict[str, Any], where: str) -> tuple[SequentialModel, dict[str, Any]]:
    """A foreign RTNeural JSON (or our aidax export) as a model and its metadata."""
    r = _Reader(where)
    layers = read_layers(d, r)
    in_skip = _number(d, "in_skip", r)
    if in_skip not in (None, 0.0, 1.0):
        raise r.fail(f"'in_skip' is {d['in_skip']!r}; AIDA-X supports 0 or 1")
    in_db, out_db = _number(d, "in_gain", r), _number(d, "out_gain", r)
    aidax = is_aidax(d)
    ours = d.get(META_KEY) if isinstance(d.get(META_KEY), dict) else {}
    rate = _sample_rate(d.get("metadata"), r) or ours.get("sample_rate_hz")
    model = SequentialModel(
        layers,
        in_gain=db_to_gain(in_db or 0.0),
        out_gain=db_to_gain(out_db or 0.0),
        skip=in_skip == 1.0,
        warmup_samples=AIDAX_WARMUP_SAMPLES if aidax else 0,
        in_channels=d["in_shape"][-1],
    ).eval()
    meta = {
        **ours,
        "format": "aidax" if aidax else "rtneural",
        "architecture": model.describe(),
        "skip": model.skip,
        "in_gain_db": in_db or 0.0,
        "out_gain_db": out_db or 0.0,
        "sample_rate_hz": rate,
        "host_warmup_samples": model.warmup_samples,
    }
    if isinstance(d.get("metadata"), dict):
        meta["aidax_metadata"] = d["metadata"]
    return model, meta
