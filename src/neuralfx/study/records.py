"""One finished run as the report's tables show it, and the tables themselves (CSV, markdown)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..audio import write_text_atomic
from ..errors import RunError
from ..training.runs import RunPaths, read_metrics

# (key, heading) of the tables; the CSV has these plus the columns after them
COLUMNS = (
    ("effect", "effect"),
    ("model", "model"),
    ("hidden", "hidden"),
    ("layers", "layers"),
    ("loss", "loss"),
    ("seed", "seed"),
    ("parameters", "parameters"),
    ("epochs", "epochs"),
    ("train_seconds", "training s"),
    ("test_esr", "test ESR"),
    ("holdout_esr", "held-out ESR"),
    ("rtf_python", "RTF Python"),
    ("rtf_cpp", "RTF C++"),
)
CSV_COLUMNS = ("run", *(k for k, _ in COLUMNS), "best_epoch", "stopped_by", "effect_spec")


@dataclass
class RunRecord:
    row: dict[str, Any]
    root: Path
    metrics: list[dict[str, float]]
    # one panel per setting shown ({label, holdout, freq_hz, target_db, prediction_db});
    # a plain run has one, labelled ""
    spectra: list[dict[str, Any]]
    audio: dict[str, Path | None]  # caption -> wav
    # knob runs: every setting's test ESR (analysis.json), the knobs, and the demo settings
    # with their target and model renders ({label, holdout, target, model})
    settings: list[dict[str, Any]] = field(default_factory=list)
    knobs: list[dict[str, Any]] = field(default_factory=list)
    demo: list[dict[str, Any]] = field(default_factory=list)


def load_record(
    run_dir: Path,
    clean: Path | None,
    target: Path | None,
    target_at: Callable[[str], Path] | None = None,
) -> RunRecord:
    """``target_at(label)``: where a knob run's target render at one setting would be."""
    paths = RunPaths(run_dir)
    result, extra = read_json(paths.result), read_json(paths.analysis)
    try:
        if "spectra" in extra:
            spectra = extra.pop("spectra")
        else:
            spectra = [{"label": "", "holdout": False, **extra.pop("spectrum")}]
        settings, knobs = extra.pop("settings", []), extra.pop("knobs", [])
        demo = [
            {
                **d,
                "target": _existing(target_at(d["label"]) if target_at else None),
                "model": _existing(paths.guitar_render_at(d["label"])),
            }
            for d in extra.pop("demo", [])
        ]
        extra.pop("seen_test_esr", None)
        row = {
            **extra,
            "parameters": result["parameters"],
            "epochs": result["epochs"],
            "train_seconds": round(result["train_seconds"], 1),
            "test_esr": result["test_esr"],
            "best_epoch": result["best_epoch"],
            "stopped_by": result["stopped_by"],
        }
    except (KeyError, TypeError):
        raise RunError(
            f"{paths.root}: {paths.result.name} or {paths.analysis.name} lacks a field; delete "
            f"{paths.analysis.name} and rerun the report (or the sweep)"
        ) from None
    audio: dict[str, Path | None] = {"clean guitar": clean}
    if not demo:
        audio.update({"target effect": target, "model": _existing(paths.guitar_render)})
    metrics = read_metrics(paths.metrics)
    return RunRecord(row, run_dir, metrics, spectra, audio, settings, knobs, demo)


def _existing(path: Path | None) -> Path | None:
    return path if path is not None and path.is_file() else None


def read_json(path: Path) -> dict[str, Any]:
    """A run's JSON record, or a RunError saying which file is damaged."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(
            f"{path}: unreadable ({type(exc).__name__}); the run was interrupted while writing "
            "it or the file was edited: rerun the sweep or the training to rewrite it"
        ) from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: not a neuralfx record; rerun the sweep or the training")
    return data


def fmt(key: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if key in ("test_esr", "holdout_esr"):
        return f"{value:.4g}"
    if key.startswith("rtf"):
        return f"{value:.3g}"
    if key == "train_seconds":
        return f"{value:.0f}"
    return str(value)


def columns(rows: list[dict[str, Any]]) -> tuple[tuple[str, str], ...]:
    """The tables' columns; held-out ESR only when a run held settings out (the CSV keeps it)."""
    if any(r.get("holdout_esr") is not None for r in rows):
        return COLUMNS
    return tuple(c for c in COLUMNS if c[0] != "holdout_esr")


def markdown_table(rows: list[dict[str, Any]]) -> str:
    cols = columns(rows)
    lines = [
        "| " + " | ".join(h for _, h in cols) + " |",
        "|"
        + "|".join("---:" if k not in ("effect", "model", "loss") else "---" for k, _ in cols)
        + "|",
    ]
    lines += ["| " + " | ".join(fmt(k, r.get(k)) for k, _ in cols) + " |" for r in rows]
    return "\n".join(lines)


def write_tables(
    folder: Path, rows: list[dict[str, Any]], missing: list[str], notes: list[str] = ()
) -> None:
    """results.csv and results.md; ``notes`` (markdown, e.g. per-setting tables) follow."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_COLUMNS} for r in rows)
    write_text_atomic(folder / "results.csv", buf.getvalue())
    note = f"\n\nNot finished: {', '.join(missing)}\n" if missing else "\n"
    after = "".join(f"\n{n}\n" for n in notes)
    write_text_atomic(folder / "results.md", markdown_table(rows) + note + after)
