"""The study's grid as runs: what each worker gets (a ``Task``) and does (``run_task``).

Both the sweep, which runs the tasks, and the report, which reads what they left, build the
task list here, so they agree on every run folder and dataset path.
"""

from __future__ import annotations

import contextlib
import json
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..audio import write_text_atomic
from ..config import TrainConfig
from ..training.runs import RunPaths
from . import analysis
from .spec import Point, Study, grid, train_config

TARGET_RENDER = "guitar_target.wav"  # per dataset: the guitar demo through the real effect


def knob_target(data_dir: str | Path, label: str) -> Path:
    """A knob dataset's guitar demo through the real effect at one setting."""
    return Path(data_dir) / f"guitar_target_{label}.wav"


@dataclass(frozen=True)
class Task:
    """Everything a worker needs, picklable for a process pool or a Ray cluster."""

    config: TrainConfig
    guitar: str
    info: dict[str, Any]

    @property
    def paths(self) -> RunPaths:
        return RunPaths(Path(self.config.runs_dir) / self.config.run_name)


def point_info(point: Point) -> dict[str, Any]:
    """The grid point as the report's table shows it."""
    return {
        "run": point.run_id,
        "effect": point.effect.name,
        "effect_spec": point.effect.spec,
        "model": point.model,
        "hidden": point.hidden,
        "layers": point.layers,
        "loss": point.loss.name,
        "seed": point.seed,
        "config_label": point.config_label,
    }


def make_tasks(study: Study, study_dir: Path) -> list[Task]:
    study_dir = study_dir.resolve()
    return [
        Task(
            train_config(study, p, study_dir),
            str(study_dir / "data" / p.effect.slug / "guitar.wav"),
            point_info(p),
        )
        for p in grid(study)
    ]


def status(task: Task) -> str:
    p = task.paths
    if p.result.is_file() and p.analysis.is_file():
        return "done"
    return "partial" if p.checkpoint.is_file() or p.result.is_file() else "new"


def run_task(task: Task) -> dict[str, Any]:
    """Train (or resume) one run and analyse it; failures come back as data, not exceptions,
    so one diverging run does not stop a study of fifty."""
    from ..training import train

    paths, cfg = task.paths, task.config
    t0 = time.perf_counter()
    outcome = {"run": cfg.run_name, "status": "ok", "action": "analysed"}
    try:
        paths.error.unlink(missing_ok=True)  # from an earlier attempt
        if not paths.result.is_file():
            resume = paths.checkpoint.is_file()
            paths.root.mkdir(parents=True, exist_ok=True)
            with (
                open(paths.log, "a", encoding="utf-8") as log,
                contextlib.redirect_stderr(log),
                contextlib.redirect_stdout(log),
            ):
                train(cfg, resume=resume)
            outcome["action"] = "resumed" if resume else "trained"
        result = analysis.analyse_run(paths.root, Path(task.guitar), task.info)
        outcome["rtf_python"] = result["rtf_python"]
        outcome["test_esr"] = json.loads(paths.result.read_text())["test_esr"]
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        outcome.update(status="failed", error=f"{type(exc).__name__}: {first}")
        write_text_atomic(paths.error, traceback.format_exc())
    outcome["seconds"] = time.perf_counter() - t0
    return outcome
