"""Live training display (rich) or plain one-line-per-epoch logs (``--quiet``)."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from .forecast import Forecast


@dataclass(frozen=True)
class Status:
    """What the display says about the run as a whole: its best, and where it is heading."""

    best_esr: float  # validation ESR of the kept model (inf before the first record)
    forecast: Forecast | None = None
    target_esr: float = 0.0  # 0 = no target
    train_seconds: float = 0.0
    end_s: float = math.inf  # training seconds at which the run will end (inf: not known yet)


def score_text(value: float) -> str:
    """A loss or ESR: five decimals, or three figures once five decimals would read 0.00000
    (a linear start's ESR is 1e-7); "-" for an epoch that trained nothing (NaN)."""
    if math.isnan(value):
        return "-"
    return (
        f"{value:.5f}" if value == 0 or abs(value) >= 1e-3 or math.isinf(value) else f"{value:.2e}"
    )


def _fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _fmt_span(seconds: float) -> str:
    """A rough duration for an estimate: its digits beyond the first two mean nothing."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.0f} h"


def best_text(s: Status) -> str:
    """'1.23e-03 → ~4.0e-04 at end': the best validation ESR and the forecast, when there is one."""
    if not math.isfinite(s.best_esr):
        return "-"
    ahead = f" → ~{s.forecast.end_esr:.1e} at end" if s.forecast else ""
    return f"{s.best_esr:.2e}{ahead}"


def target_text(s: Status) -> str:
    """'target 0.0001 in ~40 s' (training time from now), 'reached', or 'not in sight'."""
    if not s.target_esr:
        return ""
    head = f"target {s.target_esr:g}"
    if s.best_esr <= s.target_esr:
        return f"{head} reached"
    fc = s.forecast
    if fc is None:
        return head
    if fc.target_s is None:
        return f"{head}: not in sight"
    when = _fmt_span(fc.target_s - s.train_seconds)
    return f"{head} in ~{when}" + (", past the end" if fc.target_s > fc.end_s else "")


class Reporter:
    """Receives training events; shows a bar per epoch with loss, best ESR, speed and time left."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet or not sys.stderr.isatty()
        self.console = Console(stderr=True)
        self._progress: Progress | None = None
        self._task = None
        # the bar's last loss and speed: rich's reset replaces every field it is not given
        self._last = {"loss": 0.0, "speed": 0.0}

    def message(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def start_epoch(self, epoch: int, batches: int, status: Status) -> None:
        if self.quiet:
            return
        if self._progress is None:
            self._progress = Progress(
                TextColumn("epoch {task.fields[epoch]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4g}"),
                TextColumn("best ESR {task.fields[best]}"),
                TextColumn("{task.fields[speed]:,.0f} samples/s"),
                TextColumn("left {task.fields[left]}"),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "train", total=batches, epoch=epoch, best="-", left="?", **self._last
            )
        self._progress.reset(
            self._task,
            total=batches,
            epoch=epoch,
            best=best_text(status),
            left=_fmt_time(status.end_s - status.train_seconds),
            **self._last,
        )

    def batch(self, loss: float, samples_per_s: float) -> None:
        if self._progress is not None:
            self._last = {"loss": loss, "speed": samples_per_s}
            self._progress.update(self._task, advance=1, **self._last)

    def end_epoch(self, row: dict[str, Any], record: bool, status: Status) -> None:
        star = " *" if record else ""
        left_s = status.end_s - status.train_seconds
        left = f" left {_fmt_time(left_s)}" if math.isfinite(left_s) else ""
        target = target_text(status)
        self.message(
            f"epoch {row['epoch']:4d}  train {score_text(row['train_loss'])}  "
            f"val {score_text(row['val_loss'])}  val ESR {score_text(row['val_esr'])}  "
            f"lr {row['lr']:.2e}  "
            f"{row['samples_per_s']:,.0f} samples/s{left}{star}  best ESR {best_text(status)}"
            + (f", {target}" if target else "")
        )

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
