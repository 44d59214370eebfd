"""Live training display (rich) or plain one-line-per-epoch logs (``--quiet``)."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn


def _fmt_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class Reporter:
    """Receives training events; shows a bar per epoch with losses, best, speed and time left."""

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

    def start_epoch(self, epoch: int, batches: int, best: float, left_s: float | None) -> None:
        if self.quiet:
            return
        if self._progress is None:
            self._progress = Progress(
                TextColumn("epoch {task.fields[epoch]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]:.4g}"),
                TextColumn("best val {task.fields[best]}"),
                TextColumn("{task.fields[speed]:,.0f} samples/s"),
                TextColumn("left {task.fields[left]}"),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "train", total=batches, epoch=epoch, best="-", left="?", **self._last
            )
        best_s = f"{best:.4g}" if best < float("inf") else "-"
        self._progress.reset(
            self._task,
            total=batches,
            epoch=epoch,
            best=best_s,
            left=_fmt_time(left_s) if left_s is not None else "?",
            **self._last,
        )

    def batch(self, loss: float, samples_per_s: float) -> None:
        if self._progress is not None:
            self._last = {"loss": loss, "speed": samples_per_s}
            self._progress.update(self._task, advance=1, **self._last)

    def end_epoch(self, row: dict[str, Any], record: bool, left_s: float | None) -> None:
        star = " *" if record else ""
        left = f" left {_fmt_time(left_s)}" if left_s is not None else ""
        self.message(
            f"epoch {row['epoch']:4d}  train {row['train_loss']:.5f}  val {row['val_loss']:.5f}  "
            f"val ESR {row['val_esr']:.5f}  lr {row['lr']:.2e}  "
            f"{row['samples_per_s']:,.0f} samples/s{left}{star}"
        )

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
