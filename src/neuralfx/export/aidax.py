"""AIDA-X (AidaDSP) files: RTNeural native JSON plus the keys AIDA-X's loader reads.

AIDA-X picks a compile-time ``RTNeural::ModelT`` from the first layer's type and width and
``in_shape[-1]`` (its model_variant.hpp: LSTM or GRU of 8, 12, 16, 20, 24, 32, 40, 64 or 80
units, then dense 1; 1-3 inputs), calls ``parseJson``, then reads from the top level:

    in_skip   0 or 1; 1 plays input + network (the input after in_gain)
    in_gain   dB applied to the input before the network
    out_gain  dB applied to the output, skip included

A knob model (1 or 2 knobs) has ``in_shape`` [null, null, 2 or 3]: AIDA-X then feeds the
signal, PARAM1 and PARAM2 (its 0..1 knobs) per sample, in_gain and in_skip touching the signal
only. The knob names and ranges stay in our ``neuralfx`` key and, for people, as
``param1``/``param2`` lines of ``metadata``.

``metadata`` is what AidaDSP's trainer (Automated-GuitarAmpModelling) copies from its config:
name, samplerate (a string), source, style, based, author, dataset, license, esr. The plugin
does not read it; it travels for people and model browsers.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ExportError
from ..models import RecurrentModel
from . import native
from .knobs import describe_knob, model_knobs

AIDAX_HIDDEN_SIZES = (8, 12, 16, 20, 24, 32, 40, 64, 80)
AIDAX_MAX_KNOBS = 2  # PARAM1, PARAM2: in_shape [null, null, 2 or 3]
METADATA_FLAGS = ("name", "author", "style", "based", "source", "dataset", "license")


def aidax_refusal(model: RecurrentModel) -> str | None:
    """Why AIDA-X cannot run this model, or None when it can."""
    parts = []
    if model.knobs > AIDAX_MAX_KNOBS:
        parts.append(f"{model.knobs} knobs (AIDA-X feeds PARAM1 and PARAM2 only)")
    if len(model.convs):
        parts.append(f"{len(model.convs)} conv layers")
    if model.rnn.num_layers != 1:
        parts.append(f"{model.rnn.num_layers} stacked {model.cell} layers")
    if model.rnn.hidden_size not in AIDAX_HIDDEN_SIZES:
        parts.append(f"hidden size {model.rnn.hidden_size}")
    if not parts:
        return None
    sizes = ", ".join(map(str, AIDAX_HIDDEN_SIZES))
    return (
        f"AIDA-X runs one LSTM or GRU layer of {sizes} units and a dense layer, with up to "
        f"{AIDAX_MAX_KNOBS} knobs; this model has "
        f"{' and '.join(parts)}"
    )


def _gain(name: str, db: float | None) -> float | None:
    if db is not None and not (math.isfinite(db) and -90.0 < db <= 60.0):
        raise ExportError(f"{name} is {db} dB; use a value above -90 and at most 60 dB")
    return db


def to_aidax_dict(
    model: RecurrentModel,
    metadata: dict[str, Any],
    input_gain_db: float | None = None,
    output_gain_db: float | None = None,
    info: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The model as a file AIDA-X loads as it is; ``info`` fills AIDA-X's metadata keys."""
    why = aidax_refusal(model)
    if why:
        raise ExportError(f"{why}: export it with --format native for other RTNeural hosts")
    d = native.to_native_dict(model, metadata)
    ours = d.pop(native.META_KEY)
    out: dict[str, Any] = {"in_shape": d["in_shape"]}
    if model.skip:
        out["in_skip"] = 1
    for key, value in (
        ("in_gain", _gain("--input-gain-db", input_gain_db)),
        ("out_gain", _gain("--output-gain-db", output_gain_db)),
    ):
        if value is not None:
            out[key] = value
    out["layers"] = d["layers"]
    info = {k: v for k, v in (info or {}).items() if v}
    rate = metadata.get("sample_rate_hz")
    aidax_meta: dict[str, Any] = {"name": info.get("name") or metadata.get("run") or "neuralfx"}
    aidax_meta.update({k: info[k] for k in METADATA_FLAGS if k in info and k != "name"})
    if "based" not in aidax_meta and metadata.get("effect"):
        aidax_meta["based"] = str(metadata["effect"])
    aidax_meta.setdefault("source", "neuralfx")
    if rate:
        aidax_meta["samplerate"] = str(int(rate))
    esr = metadata.get("test_esr")
    if isinstance(esr, (int, float)) and math.isfinite(esr):
        aidax_meta["esr"] = float(esr)
    # AIDA-X labels its knobs PARAM1, PARAM2 and sends 0..1; say what each one turns
    for i, k in enumerate(model_knobs(metadata)):
        aidax_meta[f"param{i + 1}"] = f"{describe_knob(k)}, linear over PARAM{i + 1} 0..1"
    out["metadata"] = aidax_meta
    out[native.META_KEY] = {**ours, "format": "aidax"}
    return out
