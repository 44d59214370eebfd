"""RTNeural's native JSON: Keras-style layers that ``RTNeural::json_parser::parseJson`` reads.

Unlike the lab format it holds any registry model (conv front ends, stacked layers) and the
C++ side needs no compile-time sizes. parseJson only reads ``in_shape`` and ``layers``, so the
``neuralfx`` metadata key rides along at the top level. Layout, per layer (``shape[-1]`` is the
layer's width, the only part of ``shape`` RTNeural reads):

    conv1d  kernel (K, in, out), bias (out); kernel_size [K], dilation [d], activation "tanh"
    lstm    kernel (in, 4H), recurrent (H, 4H), bias (4H)      gates i, f, c, o
    gru     kernel (in, 3H), recurrent (H, 3H), bias (2, 3H)   gates z, r, h
    dense   kernel (H, 1), bias (1)

A skip model also carries AIDA-X's top-level ``in_skip: 1``, so any host that knows the key adds
the input without reading our metadata. Every weight matrix is PyTorch's transposed. PyTorch's GRU orders its gates r, z, n; Keras and
RTNeural order them z, r, h, so the first two blocks swap. The GRU keeps both bias rows
(input and recurrent, Keras ``reset_after``) because the recurrent bias of the candidate gate
is multiplied by r and cannot be folded; the LSTM's two biases simply add.
"""

from __future__ import annotations

from typing import Any

import torch

from ..data.knobs import MAX_KNOBS
from ..errors import ExportError, ModelFileError
from ..models import RecurrentModel

META_KEY = "neuralfx"
MAX_WIDTH = 1024  # bounds what a crafted file can make us allocate
FORMAT_VERSION = 1
GATES = {"lstm": 4, "gru": 3}
# parseJson adds an activation layer only for a non-empty "activation" string.
NO_ACTIVATION = ("", None)


def _swap_rz(t: torch.Tensor, hidden: int) -> torch.Tensor:
    """Swap the first two gate blocks along dim 0 (PyTorch r,z,n <-> Keras z,r,h; self-inverse)."""
    return torch.cat([t[hidden : 2 * hidden], t[:hidden], t[2 * hidden :]], dim=0)


def _out(t: torch.Tensor, name: str) -> torch.Tensor:
    t = t.detach().to("cpu", torch.float32)
    if not torch.isfinite(t).all():
        raise ExportError(f"{name} holds NaN or inf; the model diverged and is not exported")
    return t


def _shape(width: int) -> list:
    return [None, None, width]


def to_native_dict(model: RecurrentModel, metadata: dict[str, Any]) -> dict[str, Any]:
    """The model as RTNeural native JSON, plus the ``neuralfx`` metadata key."""
    layers: list[dict[str, Any]] = []
    for i, cconv in enumerate(model.convs):
        conv = cconv.conv
        w = _out(conv.weight, f"convs.{i}.conv.weight")  # (out, in, K)
        b = _out(conv.bias, f"convs.{i}.conv.bias")
        # Keras tap k multiplies x[t - (K-1-k)*d], as PyTorch's tap k does over [history, x];
        # RTNeural's loadConv1D does the tap reversal its state buffer needs, so no flip here.
        layers.append(
            {
                "type": "conv1d",
                "activation": "tanh",
                "shape": _shape(conv.out_channels),
                "kernel_size": [conv.kernel_size[0]],
                "dilation": [conv.dilation[0]],
                "weights": [w.permute(2, 1, 0).tolist(), b.tolist()],
            }
        )
    rnn, cell = model.rnn, model.cell
    hidden = rnn.hidden_size
    for layer in range(rnn.num_layers):
        p = {
            k: _out(getattr(rnn, f"{k}_l{layer}"), f"{cell}.{k}_l{layer}")
            for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        }
        if cell == "lstm":
            weights = [
                p["weight_ih"].T.tolist(),
                p["weight_hh"].T.tolist(),
                (p["bias_ih"] + p["bias_hh"]).tolist(),
            ]
        else:
            weights = [
                _swap_rz(p["weight_ih"], hidden).T.tolist(),
                _swap_rz(p["weight_hh"], hidden).T.tolist(),
                [_swap_rz(p["bias_ih"], hidden).tolist(), _swap_rz(p["bias_hh"], hidden).tolist()],
            ]
        layers.append({"type": cell, "activation": "", "shape": _shape(hidden), "weights": weights})
    layers.append(
        {
            "type": "dense",
            "activation": "",
            "shape": _shape(1),
            "weights": [
                _out(model.dense.weight, "dense.weight").T.tolist(),
                _out(model.dense.bias, "dense.bias").tolist(),
            ],
        }
    )
    out: dict[str, Any] = {"in_shape": _shape(model.in_channels)}
    if model.skip:
        out["in_skip"] = 1  # AIDA-X's key: hosts that know it add the input without our metadata
    out["layers"] = layers
    out[META_KEY] = {**metadata, "format": "native", "format_version": FORMAT_VERSION}
    return out


class _Reader:
    """Checks one file's layers, with messages that name the file, the layer and the shapes."""

    def __init__(self, where: str):
        self.where = where

    def fail(self, msg: str) -> ModelFileError:
        return ModelFileError(f"{self.where}: {msg}")

    def key(self, obj: dict, key: str, what: str) -> Any:
        if key not in obj:
            raise self.fail(
                f"{what} has no {key!r} key; the file is truncated or was not "
                "written by neuralfx/RTNeural: export it again"
            )
        return obj[key]

    def width(self, layer: dict, what: str) -> int:
        shape = self.key(layer, "shape", what)
        if (
            not isinstance(shape, list)
            or not shape
            or not isinstance(shape[-1], int)
            or isinstance(shape[-1], bool)
            or shape[-1] < 1
        ):
            raise self.fail(f"{what} 'shape' is {shape!r}; expected a list ending in its width")
        if shape[-1] > MAX_WIDTH:
            raise self.fail(
                f"{what} has width {shape[-1]}; neuralfx models are at most {MAX_WIDTH}"
            )
        return shape[-1]

    def scalar(self, layer: dict, key: str, what: str) -> int:
        v = self.key(layer, key, what)
        v = v[-1] if isinstance(v, list) and v else v
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise self.fail(f"{what} {key!r} is {layer[key]!r}; expected a positive integer")
        return v

    def weights(self, layer: dict, what: str, specs: list[tuple[str, list[int]]]) -> list:
        """The layer's weight arrays as float32 tensors, each checked against its shape."""
        ws = self.key(layer, "weights", what)
        if not isinstance(ws, list) or len(ws) != len(specs):
            n = len(ws) if isinstance(ws, list) else type(ws).__name__
            raise self.fail(
                f"{what} 'weights' holds {n} arrays, expected {len(specs)} "
                f"({', '.join(name for name, _ in specs)})"
            )
        out = []
        for k, (value, (name, shape)) in enumerate(zip(ws, specs)):
            label = f"{what} weights[{k}] ({name})"
            try:
                t = torch.tensor(value, dtype=torch.float32)
            except (TypeError, ValueError, RuntimeError):
                raise self.fail(f"{label} is not a numeric array of shape {shape}") from None
            if list(t.shape) != shape:
                raise self.fail(f"{label} has shape {list(t.shape)}, expected {shape}")
            if not torch.isfinite(t).all():
                raise self.fail(f"{label} holds NaN or inf")
            out.append(t)
        return out


def _in_channels(d: dict[str, Any], r: _Reader) -> int:
    """1 for audio alone, 1 + N for N knob inputs (at most MAX_KNOBS)."""
    in_shape = r.key(d, "in_shape", "the file")
    width = in_shape[-1] if isinstance(in_shape, list) and in_shape else None
    if type(width) is not int or not 1 <= width <= 1 + MAX_KNOBS:
        raise r.fail(
            f"'in_shape' is {in_shape!r}; neuralfx models take the audio and up to {MAX_KNOBS} "
            "knobs: [null, null, 1] to [null, null, 4]"
        )
    return width


def _layer_list(d: dict[str, Any], r: _Reader) -> list[dict]:
    layers = r.key(d, "layers", "the file")
    if not isinstance(layers, list) or not layers:
        raise r.fail("'layers' is empty or not a list; export the model again")
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict):
            raise r.fail(f"layer {i} is not a JSON object")
        if not isinstance(r.key(layer, "type", f"layer {i}"), str):
            raise r.fail(f"layer {i} 'type' is {layer['type']!r}, not a layer name")
    return layers


def from_native_dict(d: dict[str, Any], where: str) -> tuple[RecurrentModel, dict[str, Any]]:
    """Rebuild the PyTorch model from native JSON (the exact inverse of ``to_native_dict``)."""
    r = _Reader(where)
    in_channels = _in_channels(d, r)
    layers = _layer_list(d, r)
    meta = d.get(META_KEY) if isinstance(d.get(META_KEY), dict) else {}
    i, width = 0, in_channels
    convs = []
    while i < len(layers) and layers[i]["type"] == "conv1d":
        what = f"layer {i} (conv1d)"
        out_ch = r.width(layers[i], what)
        kernel = r.scalar(layers[i], "kernel_size", what)
        dilation = r.scalar(layers[i], "dilation", what)
        w, b = r.weights(layers[i], what, [("kernel", [kernel, width, out_ch]), ("bias", [out_ch])])
        act = layers[i].get("activation", "")
        if act in NO_ACTIVATION and i + 1 < len(layers) and layers[i + 1]["type"] == "activation":
            i += 1
            act = layers[i].get("activation", "")
        if act != "tanh":
            raise r.fail(f"{what} is followed by activation {act!r}; neuralfx conv layers use tanh")
        convs.append((w, b, kernel, dilation))
        width, i = out_ch, i + 1
    rnns = []
    while i < len(layers) and layers[i]["type"] in GATES:
        cell = layers[i]["type"]
        what = f"layer {i} ({cell})"
        hidden = r.width(layers[i], what)
        g = GATES[cell] * hidden
        bias_shape = [g] if cell == "lstm" else [2, g]
        rnns.append(
            (
                cell,
                hidden,
                r.weights(
                    layers[i],
                    what,
                    [
                        ("kernel", [width, g]),
                        ("recurrent kernel", [hidden, g]),
                        ("bias", bias_shape),
                    ],
                ),
            )
        )
        width, i = hidden, i + 1
    if not rnns:
        found = layers[i]["type"] if i < len(layers) else "nothing"
        raise r.fail(f"layer {i} is {found!r}; neuralfx models have an lstm or gru layer here")
    if i != len(layers) - 1 or layers[i]["type"] != "dense":
        found = layers[i]["type"] if i < len(layers) else "the end of the layers"
        raise r.fail(f"layer {i} is {found!r}; neuralfx models end with one dense layer")
    what = f"layer {i} (dense)"
    if r.width(layers[i], what) != 1 or layers[i].get("activation", "") not in NO_ACTIVATION:
        raise r.fail(f"{what} must have width 1 and no activation (a linear output)")
    dense_w, dense_b = r.weights(layers[i], what, [("kernel", [width, 1]), ("bias", [1])])

    cell, hidden = rnns[0][0], rnns[0][1]
    if any(c != cell or h != hidden for c, h, _ in rnns):
        desc = ", ".join(f"{c} {h}" for c, h, _ in rnns)
        raise r.fail(f"stacked layers are {desc}; neuralfx stacks layers of one type and size")
    if convs:
        shapes = {(w.shape[0], w.shape[2]) for w, *_ in convs}
        dilations = [dil for *_, dil in convs]
        if len(shapes) != 1 or dilations != [2**k for k in range(len(convs))]:
            raise r.fail(
                f"conv layers have kernel/channels {sorted(shapes)} and dilations "
                f"{dilations}; neuralfx builds equal layers with dilations 1, 2, 4, ..."
            )
    conv_kernel, conv_channels = (convs[0][2], convs[0][0].shape[2]) if convs else (3, 8)
    inferred = {
        "model": (f"conv-{cell}" if convs else cell),
        "hidden_size": hidden,
        "num_layers": len(rnns),
    }
    for key, value in inferred.items():
        if key in meta and meta[key] != value:
            raise r.fail(
                f"metadata says {key} {meta[key]!r} but the layers hold {value!r}; "
                "the file was edited by hand: export it again"
            )
    skip = bool(meta.get("skip", False))
    if "in_skip" in d:
        if d["in_skip"] not in (0, 1) or isinstance(d["in_skip"], bool):
            raise r.fail(f"'in_skip' is {d['in_skip']!r}; expected 0 or 1")
        if "skip" in meta and skip != bool(d["in_skip"]):
            raise r.fail(
                f"'in_skip' is {d['in_skip']} but metadata says skip {skip}; "
                "the file was edited by hand: export it again"
            )
        skip = bool(d["in_skip"])
    model = RecurrentModel(
        cell,
        hidden,
        len(rnns),
        skip,
        len(convs),
        conv_channels,
        conv_kernel,
        in_channels - 1,
    )
    state: dict[str, torch.Tensor] = {}
    for k, (w, b, _, _) in enumerate(convs):
        state[f"convs.{k}.conv.weight"] = w.permute(2, 1, 0).contiguous()
        state[f"convs.{k}.conv.bias"] = b
    for k, (_, _, (w, u, b)) in enumerate(rnns):
        w_ih, w_hh = w.T.contiguous(), u.T.contiguous()
        if cell == "lstm":
            # The file holds only the sum; putting it all in bias_ih gives the same gates.
            b_ih, b_hh = b, torch.zeros_like(b)
        else:
            w_ih, w_hh = _swap_rz(w_ih, hidden), _swap_rz(w_hh, hidden)
            b_ih, b_hh = _swap_rz(b[0], hidden), _swap_rz(b[1], hidden)
        state.update(
            {
                f"{cell}.weight_ih_l{k}": w_ih,
                f"{cell}.weight_hh_l{k}": w_hh,
                f"{cell}.bias_ih_l{k}": b_ih,
                f"{cell}.bias_hh_l{k}": b_hh,
            }
        )
    state["dense.weight"] = dense_w.T.contiguous()
    state["dense.bias"] = dense_b
    model.load_state_dict(state)
    meta = {"sample_rate_hz": 44100, **meta, **inferred, "skip": skip}
    return model.eval(), meta
