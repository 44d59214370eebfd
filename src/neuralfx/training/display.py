"""Live training display (rich) or plain one-line-per-epoch logs (``--quiet``)."""

from __future__ import annotations

import math
import sys
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn


def _fmt_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def heading(rows: list[dict[str, Any]], end_s: float) -> float | None:
    """Where the best validation ESR is heading by ``end_s`` training seconds.

    A straight line through log(best ESR) against log(seconds) over the later half of the
    records so far (at least three), followed to the end of the run; None until there are three points. The
    schedule's last, slowest steps usually do better than the line, so it errs low.
    """
    points, best = [], math.inf
    for r in rows:
        best = min(best, r["val_esr"])
        if math.isfinite(best) and best > 0 and r["seconds"] > 0:
            points.append((math.log(r["seconds"]), math.log(best)))
    points = points[-max(3, len(points) // 2) :]
    if len(points) < 3 or end_s <= 0:
        return None
    mx = sum(p[0] for p in points) / len(points)
    my = sum(p[1] for p in points) / len(points)
    sxx = sum((p[0] - mx) ** 2 for p in points)
    if sxx <= 0:
        return None
    slope = min(0.0, sum((p[0] - mx) * (p[1] - my) for p in points) / sxx)
    return math.exp(points[-1][1] + slope * (math.log(end_s) - points[-1][0]))


class Reporter:
    """Receives training events; shows a bar per epoch with losses, best, speed and time left."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet or not sys.stderr.isatty()
        self.console = Console(stderr=True)
        self._progress: Progress | None = None
        self._task = None

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
                TextColumn("best ESR {task.fields[best]}"),
                TextColumn("{task.fields[speed]:,.0f} samples/s"),
                TextColumn("left {task.fields[left]}"),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                "train", total=batches, epoch=epoch, loss=0.0, best="-", speed=0.0, left="?"
            )
        best_s = f"{best:.4g}" if best < float("inf") else "-"
        self._progress.reset(
            self._task,
            total=batches,
            epoch=epoch,
            best=best_s,
            left=_fmt_time(left_s) if left_s is not None else "?",
        )

    def batch(self, loss: float, samples_per_s: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, loss=loss, speed=samples_per_s)

    def end_epoch(
        self,
        row: dict[str, Any],
        record: bool,
        left_s: float | None,
        best_esr: float,
        heading_esr: float | None,
    ) -> None:
        star = " *" if record else ""
        left = f" left {_fmt_time(left_s)}" if left_s is not None else ""
        ahead = f" -> ~{heading_esr:.2e} at the end" if heading_esr is not None else ""
        self.message(
            f"epoch {row['epoch']:4d}  train {row['train_loss']:.5f}  val {row['val_loss']:.5f}  "
            f"val ESR {row['val_esr']:.5f}  best ESR {best_esr:.2e}{ahead}  lr {row['lr']:.2e}  "
            f"{row['samples_per_s']:,.0f} samples/s{left}{star}"
        )

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
