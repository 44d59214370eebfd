"""The lab's model.json: a flat PyTorch state_dict as nested lists, plus a metadata key.

RTNeural reads it with ``torch_helpers::loadLSTM(json, "lstm.", lstm)`` (or ``loadGRU``) and
``loadDense(json, "dense.", dense)``; those look keys up by name, so the extra ``neuralfx``
metadata object is ignored by them.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ExportError, ModelFileError, plural
from ..models import RecurrentModel

META_KEY = "neuralfx"
FORMAT_VERSION = 1
MAX_HIDDEN = 1024  # well above what runs in real time; bounds what a crafted file can allocate


def lab_keys(cell: str) -> list[str]:
    return [
        f"{cell}.weight_ih_l0",
        f"{cell}.weight_hh_l0",
        f"{cell}.bias_ih_l0",
        f"{cell}.bias_hh_l0",
        "dense.weight",
        "dense.bias",
    ]


def check_lab_exportable(model: RecurrentModel) -> None:
    """The lab format holds one recurrent layer and a dense layer, nothing else (its C++
    loader feeds one input, so no knobs)."""
    n_layers = model.rnn.num_layers
    if model.knobs:
        raise ExportError(
            f"the lab format has no knob inputs; this model takes {plural(model.knobs, 'knob input')}: "
            "use --format native"
        )
    if len(model.convs) or n_layers != 1:
        raise ExportError(
            f"the lab format holds a single {model.cell} layer and a dense layer; this model has "
            f"{len(model.convs)} conv and {n_layers} recurrent layers: use --format native"
        )


def to_lab_dict(model: RecurrentModel, metadata: dict[str, Any]) -> dict[str, Any]:
    check_lab_exportable(model)
    out: dict[str, Any] = {}
    for key, tensor in model.state_dict().items():
        t = tensor.detach().to("cpu", torch.float32)
        if not torch.isfinite(t).all():
            raise ExportError(f"{key} holds NaN or inf; the model diverged and is not exported")
        out[key] = t.tolist()
    out[META_KEY] = {**metadata, "format": "lab", "format_version": FORMAT_VERSION}
    return out


def from_lab_dict(d: dict[str, Any], where: str) -> tuple[RecurrentModel, dict[str, Any]]:
    """Rebuild the model from a lab-format dict; old lab files without metadata work too."""
    meta = d.get(META_KEY, {}) if isinstance(d.get(META_KEY, {}), dict) else {}
    cell = "gru" if "gru.weight_ih_l0" in d else "lstm"
    missing = [k for k in lab_keys(cell) if k not in d]
    if missing:
        raise ModelFileError(
            f"{where}: not a neuralfx/RTNeural model file: missing {', '.join(missing)}"
        )
    try:
        w_hh = torch.tensor(d[f"{cell}.weight_hh_l0"], dtype=torch.float32)
    except (TypeError, ValueError):
        raise ModelFileError(f"{where}: {cell}.weight_hh_l0 is not a numeric matrix") from None
    if w_hh.ndim != 2:
        raise ModelFileError(f"{where}: {cell}.weight_hh_l0 has shape {list(w_hh.shape)}, not 2-D")
    hidden = int(w_hh.shape[1])
    gates = 4 if cell == "lstm" else 3
    # checked before anything is built: the model's size follows from this one tensor's width
    if not 1 <= hidden <= MAX_HIDDEN or w_hh.shape[0] != gates * hidden:
        raise ModelFileError(
            f"{where}: {cell}.weight_hh_l0 has shape {list(w_hh.shape)}; a {cell.upper()} of H "
            f"units (1 <= H <= {MAX_HIDDEN}) has shape [{gates}H, H]"
        )
    skip = meta.get("skip", False)
    if not isinstance(skip, bool):
        raise ModelFileError(f"{where}: metadata skip is {skip!r}; it must be true or false")
    model = RecurrentModel(cell, hidden, 1, skip)
    state = {}
    for key, ref in model.state_dict().items():
        try:
            t = torch.tensor(d[key], dtype=torch.float32)
        except (TypeError, ValueError):
            raise ModelFileError(f"{where}: {key} is not a numeric array") from None
        if t.shape != ref.shape:
            raise ModelFileError(
                f"{where}: {key} has shape {list(t.shape)}, expected {list(ref.shape)} "
                f"for a {cell.upper()} of {hidden} units"
            )
        if not torch.isfinite(t).all():
            raise ModelFileError(f"{where}: {key} holds NaN or inf")
        state[key] = t
    model.load_state_dict(state)
    if meta.get("hidden_size", hidden) != hidden or meta.get("num_layers", 1) != 1:
        raise ModelFileError(
            f"{where}: metadata says {meta.get('num_layers', 1)} layer(s) of "
            f"{meta.get('hidden_size')} units but the weights hold 1 layer of {hidden}; "
            "export the model again"
        )
    meta = {
        "model": cell,
        "hidden_size": hidden,
        "num_layers": 1,
        "skip": False,
        "sample_rate_hz": 44100,
        **meta,
    }
    return model.eval(), meta
