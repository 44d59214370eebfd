"""Run folders: ``DATA/runs/<name>/`` with config.json, metrics.csv, model.json, checkpoint.pt.

Every file name of a run folder is a ``RunPaths`` property, so no other module spells one.

Everything here is written atomically, so a run killed at any instant can be resumed from its
last checkpoint and never leaves a truncated file behind.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from .. import config as cfgmod
from ..audio import write_bytes_atomic, write_text_atomic
from ..config import TrainConfig
from ..errors import RunError

METRIC_COLUMNS = ("epoch", "train_loss", "val_loss", "val_esr", "lr", "seconds", "samples_per_s")
CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class RunPaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.csv"

    @property
    def model(self) -> Path:
        return self.root / "model.json"

    @property
    def checkpoint(self) -> Path:
        return self.root / CHECKPOINT

    @property
    def result(self) -> Path:
        return self.root / "result.json"

    # written after training by the study layer (analysis, sweep, report)
    @property
    def analysis(self) -> Path:
        return self.root / "analysis.json"

    @property
    def guitar_render(self) -> Path:
        return self.root / "guitar_model.wav"  # the best model playing the guitar demo

    @property
    def guitar_target(self) -> Path:
        return self.root / "guitar_target.wav"  # the guitar demo through the real effect

    def guitar_render_at(self, label: str) -> Path:
        return self.root / f"guitar_model_{label}.wav"  # knob runs: one per demo setting

    def guitar_target_at(self, label: str) -> Path:
        return self.root / f"guitar_target_{label}.wav"

    @property
    def error(self) -> Path:
        return self.root / "error.txt"

    @property
    def log(self) -> Path:
        return self.root / "train.log"


def runs_root(cfg: TrainConfig) -> Path:
    return Path(cfg.runs_dir or Path(cfg.data_dir) / "runs")


def run_paths(data_dir: str | Path, run_name: str, runs_dir: str | Path = "") -> RunPaths:
    return RunPaths(Path(runs_dir or Path(data_dir) / "runs") / run_name)


def create_run(cfg: TrainConfig) -> tuple[TrainConfig, RunPaths]:
    """Make the folder of a new run; returns the config with its final run name.

    An automatic name (time stamp and model) gets a ``-2``, ``-3``... suffix when another run
    took it in the same second; the exclusive ``mkdir`` makes that race-free. A name given by
    the user that already holds a trained run is refused rather than overwritten.
    """
    root = runs_root(cfg)
    try:
        root.mkdir(parents=True, exist_ok=True)
        if cfg.run_name:
            paths = RunPaths(root / cfg.run_name)
            if paths.checkpoint.is_file() or paths.result.is_file():
                raise RunError(
                    f"{paths.root}: already holds a run; continue it with --resume "
                    f"{cfg.run_name} or choose another --run-name"
                )
            paths.root.mkdir(exist_ok=True)
            return cfg, paths
        m = cfg.model
        base = f"{time.strftime('%Y%m%d-%H%M%S')}-{m.name}{m.hidden_size}"
        for i in range(1, 1000):
            name = base if i == 1 else f"{base}-{i}"
            try:
                (root / name).mkdir()
            except FileExistsError:
                continue
            return cfg.with_overrides(run_name=name), RunPaths(root / name)
    except OSError as exc:
        raise RunError(
            f"{root}: cannot create the run folder ({exc.strerror}); point --runs-dir at a "
            "folder you can write to"
        ) from None
    raise RunError(f"{root}: 999 runs started this second; pass --run-name")


@contextlib.contextmanager
def locked(paths: RunPaths) -> Iterator[None]:
    """Hold the run folder for this process: a second ``train`` on it is refused at once."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; the run folder stays unguarded
        yield
        return
    try:
        f = open(paths.root / ".lock", "a+")  # noqa: SIM115 (held for the whole run)
    except OSError as exc:
        raise RunError(f"{paths.root}: cannot lock the run folder ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise RunError(
                f"{paths.root}: another neuralfx process is training this run; wait for it "
                "to finish or choose another --run-name"
            ) from None
        yield
    finally:
        f.close()


def resolve_run(data_dir: str | Path, run: str) -> RunPaths:
    """Accept a run name or a path to a run folder; it must hold a config and a checkpoint."""
    candidates = [Path(run), Path(data_dir) / "runs" / run]
    for c in candidates:
        if (c / "config.json").is_file():
            paths = RunPaths(c)
            if not paths.checkpoint.is_file():
                raise RunError(
                    f"{c}: has no {CHECKPOINT} (it stopped before its first epoch ended); "
                    "start a new run instead"
                )
            return paths
    runs = sorted(p.name for p in (Path(data_dir) / "runs").glob("*") if p.is_dir())
    hint = f"; runs here: {', '.join(runs[-5:])}" if runs else ""
    raise RunError(f"{candidates[1]}: no such run{hint}")


def save_config(paths: RunPaths, cfg: TrainConfig) -> None:
    write_text_atomic(paths.config, cfgmod.to_json(cfg))


def save_metrics(paths: RunPaths, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r[k] for k in METRIC_COLUMNS})
    write_text_atomic(paths.metrics, buf.getvalue())


def read_metrics(path: str | Path) -> list[dict[str, float]]:
    try:
        with open(path, newline="") as f:
            rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise RunError(
            f"{path}: unreadable ({type(exc).__name__}); resume the run to rewrite it"
        ) from None
    if any(set(r) != set(METRIC_COLUMNS) for r in rows):
        raise RunError(f"{path}: not neuralfx's metrics (other columns); resume the run")
    return rows


def save_checkpoint(paths: RunPaths, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    write_bytes_atomic(paths.checkpoint, buf.getvalue())


def load_checkpoint(paths: RunPaths) -> dict[str, Any]:
    """The checkpoint as plain data; never unpickles anything but tensors and containers."""
    try:
        ck = torch.load(paths.checkpoint, map_location="cpu", weights_only=True)
    except Exception as exc:
        # weights_only refuses any pickled object but tensors and plain data: a checkpoint
        # that needs more was not written by neuralfx, and loading it could run its code
        raise RunError(
            f"{paths.checkpoint}: unreadable checkpoint ({exc.__class__.__name__}); start a new run"
        ) from None
    if not isinstance(ck, dict):
        raise RunError(f"{paths.checkpoint}: not a neuralfx checkpoint; start a new run")
    return ck


def save_result(paths: RunPaths, result: Any) -> None:
    """result.json: the run's result (a dataclass), paths as text."""
    fields = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(result).items()}
    write_text_atomic(paths.result, json.dumps(fields, indent=2, sort_keys=True) + "\n")


def find_guitar(data_dir: str | Path) -> Path | None:
    """The demo file: ``DATA/guitar.wav``, or as in the lab, ``guitar.wav`` beside DATA."""
    for p in (Path(data_dir) / "guitar.wav", Path(data_dir).resolve().parent / "guitar.wav"):
        if p.is_file():
            return p
    return None
