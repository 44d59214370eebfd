"""Model files: save a trained model as RTNeural JSON and load any of our JSON formats back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..audio import write_text_atomic
from ..errors import ExportError, ModelFileError
from ..models import RecurrentModel
from . import lab

FORMATS = ("lab", "native")


def default_format(model: RecurrentModel) -> str:
    """The lab's format where it can hold the model, RTNeural's native format otherwise."""
    return "lab" if not len(model.convs) and model.rnn.num_layers == 1 else "native"


def model_to_dict(model: RecurrentModel, metadata: dict[str, Any], fmt: str | None = None) -> dict:
    fmt = fmt or default_format(model)
    if fmt == "lab":
        return lab.to_lab_dict(model, metadata)
    if fmt == "native":
        from . import native

        return native.to_native_dict(model, metadata)
    raise ModelFileError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


def save_model(
    model: RecurrentModel, path: str | Path, metadata: dict[str, Any], fmt: str | None = None
) -> Path:
    """Write a model JSON atomically; never writes NaN (``allow_nan=False``)."""
    text = json.dumps(model_to_dict(model, metadata, fmt), allow_nan=False)
    return write_text_atomic(path, text)


def load_model(path: str | Path) -> tuple[RecurrentModel, dict[str, Any]]:
    """Load a model JSON of either format into a PyTorch model in eval mode, plus metadata."""
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
    if "layers" in d:
        from . import native

        return native.from_native_dict(d, str(path))
    return lab.from_lab_dict(d, str(path))


def export_model(src_path: str | Path, fmt: str, out_path: str | Path | None = None) -> Path:
    """Rewrite a model.json (or a run folder's ``model.json``) in format ``fmt``.

    The metadata travels along. Without ``out_path`` the file goes next to the source as
    ``model.<fmt>.json``; the source itself is never overwritten.
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
    out = Path(out_path) if out_path is not None else src.with_name(f"model.{fmt}.json")
    if out.resolve() == src.resolve():
        raise ExportError(f"{out}: is the model being exported; choose another output with -o")
    model, meta = load_model(src)
    meta = {k: v for k, v in meta.items() if k not in ("format", "format_version")}
    return save_model(model, out, meta, fmt)
