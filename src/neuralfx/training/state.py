"""What a run knows about itself between epochs, and the checkpoint that carries it over.

A checkpoint holds only tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(weights_only=True)``: a run folder someone sends cannot run code on ``--resume``.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch

from ..config import TrainConfig
from ..errors import RunError
from .schedule import has_tail, tail_epochs


@dataclass
class Progress:
    """The training loop's bookkeeping: where it is, its best record, and every epoch's row."""

    epoch: int = 0  # epochs completed
    best_val: float = math.inf  # validation loss of the record
    best_val_esr: float = math.inf
    best_epoch: int = -1
    since_best: int = 0  # epochs without a record, for early stopping
    train_seconds: float = 0.0  # training time only, excluding validation and renders
    steps: int = 0  # optimiser steps taken (or skipped), which set the chunk length
    low_rate_steps: int = 0  # of those, the ones at a rate of averaging.SETTLED_RATE or less
    rate_scale: float = 1.0  # the peak rate's factor, cut by each rollback (recovery.py)
    linear: bool = False  # the model is the pair's linear filter, not trained (linear_start.py)
    rows: list[dict[str, float]] = field(default_factory=list)  # metrics.csv
    best_state: dict[str, torch.Tensor] | None = None  # the record's weights, on the CPU

    def record(self, epoch: int, val_loss: float, val_esr: float, model: torch.nn.Module) -> None:
        self.best_val, self.best_val_esr, self.best_epoch, self.since_best = (
            val_loss,
            val_esr,
            epoch,
            0,
        )
        self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Progress:
        names = {f.name for f in fields(cls)}
        if isinstance(data, dict):  # written before these were kept
            data = {"steps": 0, "low_rate_steps": 0, "rate_scale": 1.0, "linear": False, **data}
        if not isinstance(data, dict) or set(data) != names:
            raise RunError(
                f"{where}: the checkpoint's progress record is not neuralfx's; start a new run"
            )
        return cls(**data)


def stop_reason(cfg: TrainConfig, p: Progress) -> str | None:
    """Why the run stops now, or None to train another epoch.

    The target is judged on the record's validation ESR, so the model kept has reached it (an
    epoch with a lower ESR but no loss record does not count). When several rules hold, the
    first one here names the reason."""
    if p.linear:  # so a resumed run that was set to its filter stays done
        return "linear"
    if cfg.target_esr and p.best_val_esr <= cfg.target_esr:
        return "target"
    if p.since_best >= cfg.early_stop_patience and (
        # with a cosine tail the records come in the landing: early stopping waits for it
        not has_tail(cfg.lr_schedule, cfg.budget_s)
        or tail_epochs(p.rows, cfg.budget_s, cfg.max_epochs) >= cfg.early_stop_patience
    ):
        return "early_stop"
    if p.epoch >= cfg.max_epochs:
        return "max_epochs"
    if cfg.budget_s and p.train_seconds >= cfg.budget_s:
        return "budget"
    return None


@dataclass
class RandomState:
    """Every generator a run draws from, so a resumed run continues the same sequence."""

    numpy: dict[str, Any]
    torch: torch.Tensor
    python: tuple

    @classmethod
    def capture(cls, rng: np.random.Generator) -> RandomState:
        return cls(rng.bit_generator.state, torch.get_rng_state(), random.getstate())

    def restore(self, rng: np.random.Generator) -> None:
        rng.bit_generator.state = self.numpy
        torch.set_rng_state(self.torch)
        random.setstate(_as_tuples(self.python))


def _as_tuples(value: Any) -> Any:
    """``random.setstate`` wants tuples all the way down."""
    return tuple(_as_tuples(v) for v in value) if isinstance(value, (list, tuple)) else value


def checkpoint_dict(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    random_state: RandomState,
    progress: Progress,
    config: dict[str, Any],
    average: Any = None,
    teacher: Any = None,
) -> dict[str, Any]:
    extra = {"average": average.state_dict()} if average is not None else {}
    if teacher is not None:
        extra["knob_teacher"] = teacher.state_dict()
    return {
        **extra,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "random": asdict(random_state),
        "progress": asdict(progress),
        "config": config,
    }


def restore_checkpoint(
    ck: dict[str, Any],
    where: str,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    rng: np.random.Generator,
    average: Any = None,
    teacher: Any = None,
) -> Progress:
    """Load a checkpoint into the run's objects; a foreign or mismatched one is a RunError."""
    missing = [k for k in ("model", "optimizer", "scheduler", "random", "progress") if k not in ck]
    if missing:
        raise RunError(f"{where}: the checkpoint has no {missing[0]!r}; start a new run")
    try:
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        scheduler.load_state_dict(ck["scheduler"])
        RandomState(**ck["random"]).restore(rng)
        if average is not None:
            average.load_state_dict(ck.get("average"), where)
        if teacher is not None:
            teacher.load_state_dict(ck.get("knob_teacher"), where)
    except (RuntimeError, KeyError, TypeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise RunError(
            f"{where}: does not fit this run's model ({first}); resume with the "
            "settings it was started with, or start a new run"
        ) from None
    return Progress.from_dict(ck["progress"], where)
