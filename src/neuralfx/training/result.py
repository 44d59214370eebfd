"""What a run leaves behind: its result, and the metadata every model file it writes carries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import TrainConfig
from ..version import __version__
from .display import score_text


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    model_path: Path
    test_esr: float
    best_val_esr: float
    best_epoch: int
    epochs: int
    train_seconds: float
    parameters: int
    samples_per_s: float
    stopped_by: str
    # knob data: each setting's test ESR (held-out ones marked); test_esr is the seen ones'
    settings: tuple[dict[str, Any], ...] = ()


def result_of(
    run_dir: Path,
    model_path: Path,
    test_esr: float,
    progress,
    parameters: int,
    stopped_by: str,
    settings=(),
) -> TrainResult:
    """The result of a finished run from its progress record (``state.Progress``)."""
    p = progress
    speed = sum(r["samples_per_s"] for r in p.rows) / len(p.rows) if p.rows else 0.0
    return TrainResult(
        run_dir,
        model_path,
        test_esr,
        p.best_val_esr,
        p.best_epoch,
        p.epoch,
        p.train_seconds,
        parameters,
        speed,
        stopped_by,
        tuple(settings),
    )


def summary_lines(
    r: TrainResult, model_json: Path, target_esr: float, renders: str = ""
) -> list[str]:
    """What a finished run prints: each setting's test ESR, then the score and where it is."""
    lines = []
    for s in r.settings:
        held = "  (held out: never trained or validated on)" if s["holdout"] else ""
        lines.append(f"  test ESR at {s['label']}: {score_text(s['test_esr'])}{held}")
    why = {"target": f"target ESR {target_esr:g}", "linear": "the linear start"}.get(
        r.stopped_by, r.stopped_by
    )
    lines.append(
        f"test ESR {score_text(r.test_esr)}{' over the trained settings' if r.settings else ''} "
        f"(best epoch {r.best_epoch}, {r.epochs} epochs, "
        f"{r.train_seconds:.0f} s, stopped by {why})\n"
        f"model: {model_json}  run: {r.run_dir}{renders}"
    )
    return lines


def model_metadata(
    cfg: TrainConfig, effect: str, run_name: str, sample_rate_hz: int, **extra: Any
) -> dict[str, Any]:
    m = cfg.model
    return {
        "model": m.name,
        "hidden_size": m.hidden_size,
        "num_layers": m.num_layers,
        "skip": m.skip,
        "conv_channels": m.conv_channels,
        "conv_kernel": m.conv_kernel,
        "sample_rate_hz": sample_rate_hz,
        "neuralfx_version": __version__,
        "effect": effect,
        "run": run_name,
        **extra,
    }
