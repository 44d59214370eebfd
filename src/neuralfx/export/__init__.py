"""Model files: save a trained model for RTNeural, AIDA-X or NAM, and load any of them back.

``load_model`` returns our ``RecurrentModel`` for the lab and native formats and a
``SequentialModel`` for files other tools wrote (RTNeural JSON, AIDA-X, NAM), which renders
the way their host plays them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from ..audio import write_text_atomic
from ..errors import ExportError, ModelFileError
from ..models import RecurrentModel
from . import lab
from .knobs import check_knob_metadata

FORMATS = ("lab", "native", "aidax", "nam")
# what the readers add about the file itself, which a rewritten file does not inherit
READER_KEYS = (
    "format",
    "format_version",
    "architecture",
    "in_gain_db",
    "out_gain_db",
    "host_warmup_samples",
    "aidax_metadata",
    "nam_metadata",
    "nam_version",
)
SUFFIXES = {"lab": ".lab.json", "native": ".native.json", "aidax": ".aidax.json", "nam": ".nam"}


def default_format(model: RecurrentModel) -> str:
    """The lab's format where it can hold the model, RTNeural's native format otherwise."""
    lab_fits = not len(model.convs) and model.rnn.num_layers == 1 and not model.knobs
    return "lab" if lab_fits else "native"


def model_to_dict(
    model: RecurrentModel, metadata: dict[str, Any], fmt: str | None = None, **options: Any
) -> dict:
    """``options``: aidax takes input_gain_db, output_gain_db, info; nam takes info."""
    fmt = fmt or default_format(model)
    # a file whose knob list does not match its inputs would not load again
    metadata = check_knob_metadata(metadata, model.in_channels, "the model's metadata")
    if fmt == "lab":
        return lab.to_lab_dict(model, metadata)
    if fmt == "native":
        from . import native

        return native.to_native_dict(model, metadata)
    if fmt == "aidax":
        from . import aidax

        return aidax.to_aidax_dict(model, metadata, **options)
    if fmt == "nam":
        from . import nam

        return nam.to_nam_dict(model, metadata, **options)
    raise ModelFileError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


def save_model(
    model: RecurrentModel,
    path: str | Path,
    metadata: dict[str, Any],
    fmt: str | None = None,
    **options: Any,
) -> Path:
    """Write a model file atomically; never writes NaN (``allow_nan=False``)."""
    text = json.dumps(model_to_dict(model, metadata, fmt, **options), allow_nan=False)
    return write_text_atomic(path, text)


def load_model(path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Load a model file of any format into a PyTorch model in eval mode, plus metadata.

    Both kinds of model take and return a state: ``model(x, state) -> (y, state)``.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(
            f"{path}: not valid JSON ({exc.__class__.__name__}: {str(exc)[:80]}); "
            "the file is truncated or not a model: export it again"
        ) from None
    if not isinstance(d, dict):
        raise ModelFileError(f"{path}: not a model file (top level is not a JSON object)")
    model, meta = _from_dict(d, str(path))
    meta = check_knob_metadata(check_metadata(meta, str(path)), model.in_channels, str(path))
    return model, meta


# what the rest of neuralfx reads from a model's metadata, with the type it must have
_META_TYPES = {"sample_rate_hz": int, "latency_samples": int, "skip": bool, "hidden_size": int}
MIN_RATE_HZ, MAX_RATE_HZ = 8000, 384000


def check_metadata(meta: dict[str, Any], where: str) -> dict[str, Any]:
    """Refuse metadata values of the wrong type rather than guess (``"skip": "no"`` is not
    true, ``"sample_rate_hz": "fast"`` is not a rate)."""
    for key, kind in _META_TYPES.items():
        value = meta.get(key)
        if value is None:
            continue
        if type(value) is not kind and not (
            kind is int and isinstance(value, float) and value.is_integer()
        ):
            raise ModelFileError(
                f"{where}: metadata {key} is {value!r}; it must be "
                f"{'true or false' if kind is bool else 'a whole number'}: export the model again"
            )
    rate = meta.get("sample_rate_hz")
    if rate is not None and not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise ModelFileError(
            f"{where}: metadata sample_rate_hz {rate} is not an audio rate "
            f"({MIN_RATE_HZ}-{MAX_RATE_HZ} Hz): export the model again"
        )
    return meta


def _from_dict(d: dict[str, Any], where: str) -> tuple[nn.Module, dict[str, Any]]:
    if "architecture" in d and "weights" in d:
        from . import nam

        return nam.from_nam_dict(d, where)
    if "layers" in d or "in_shape" in d:
        ours = d.get(lab.META_KEY)
        if isinstance(ours, dict) and ours.get("format") == "native":
            from . import native

            return native.from_native_dict(d, where)
        from . import rtneural

        return rtneural.from_rtneural_dict(d, where)
    return lab.from_lab_dict(d, where)


def load_recurrent_model(path: str | Path) -> tuple[RecurrentModel, dict[str, Any]]:
    """Any model file whose network neuralfx can train (1-3 LSTM/GRU + dense 1, skip) as a
    ``RecurrentModel``: our own files, AIDA-X captures, RTNeural JSON, NAM LSTMs."""
    from ..models.sequential import SequentialModel, to_recurrent_model

    model, meta = load_model(path)
    if isinstance(model, SequentialModel):
        model = to_recurrent_model(model, str(path))
        rnn = model.rnn
        meta = {
            **meta,
            "model": model.cell,
            "hidden_size": rnn.hidden_size,
            "num_layers": rnn.num_layers,
            "skip": model.skip,
        }
    return model, meta


def export_model(
    src_path: str | Path, fmt: str, out_path: str | Path | None = None, **options: Any
) -> Path:
    """Rewrite a model file (or a run folder's ``model.json``) in format ``fmt``.

    Other tools' files convert when ``load_recurrent_model`` can hold their network, so an
    AIDA-X capture can become a .nam. The metadata travels along. Without ``out_path`` the file goes next to the source as
    ``model.aidax.json``, ``model.nam`` and so on; the source itself is never overwritten.
    """
    src = Path(src_path)
    if src.is_dir():
        src = src / "model.json"
        if not src.is_file():
            raise ModelFileError(
                f"{src_path}: holds no model.json; pass a run folder or a model.json"
            )
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = (
        Path(out_path)
        if out_path is not None
        else src.with_name(src.name.split(".")[0] + SUFFIXES[fmt])
    )
    if out.resolve() == src.resolve():
        raise ExportError(f"{out}: is the model being exported; choose another output with -o")
    model, meta = load_recurrent_model(src)
    meta = {k: v for k, v in meta.items() if k not in READER_KEYS}
    try:
        return save_model(model, out, meta, fmt, **options)
    except ExportError as exc:
        raise ExportError(f"{src}: {exc}") from None
