"""How ``neuralfx data check`` shows a dataset report: a table, every problem, and a plot."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from scipy import signal

from ..audio import SAMPLE_RATE_HZ, write_bytes_atomic
from .check import DatasetReport
from .pair_check import read_with_stats


def print_report(report: DatasetReport, console=None) -> None:
    """A rich table: one input row and one output row per pair, then every problem in full."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    table = Table(
        title=f"{report.data_dir}: {len(report.pairs)} pair(s)",
        box=box.SIMPLE_HEAD,
        caption="levels in dBFS; latency in samples (*: --align/--latency removed it)",
        collapse_padding=True,
        pad_edge=False,
    )
    table.add_column("file", overflow="fold", min_width=14)
    for col in ("s", "Hz/ch", "peak/RMS", "DC", "clipped", "latency", "verdict"):
        table.add_column(col, justify="left" if col == "verdict" else "right", no_wrap=True)
    colours = {"ok": "green", "warning": "yellow", "error": "red"}
    shown = None
    for r in report.pairs:
        for role, s in (("input", r.input), ("output", r.output)):
            is_out = role == "output"
            if not is_out and r.pair.input_path == shown:
                continue  # one input with several outputs: list it once
            shown = r.pair.input_path
            path = r.pair.output_path if is_out else r.pair.input_path
            folder = report.data_dir / role
            name = f"{role[:3]} " + (
                path.relative_to(folder).as_posix() if path.is_relative_to(folder) else str(path)
            )
            latency = (
                ""
                if not is_out
                else "?"
                if r.latency_samples is None
                else f"{r.latency_samples}" + ("*" if r.shift_samples else "")
            )
            verdict = f"[{colours[r.verdict]}]{r.verdict}[/]" if is_out else ""
            if s is None:
                table.add_row(name, *[""] * 6, verdict)
                continue
            table.add_row(
                name,
                f"{s.duration_s:.2f}",
                f"{s.sample_rate_hz}/{s.channels}",
                f"{s.peak_dbfs:.1f}/{s.rms_dbfs:.1f}",
                f"{s.dc_offset:+.3f}",
                str(s.clipped_samples),
                latency,
                verdict,
            )
    console.print(table)
    if report.knobs is not None:
        t = report.knobs
        ranges = ", ".join(
            f"{k.name} {k.lo:g}..{k.hi:g}{' ' + k.unit if k.unit else ''}" for k in t.knobs
        )
        console.print(
            f"knobs: {ranges}; {len(t.settings)} settings ({t.path.name}): "
            "`neuralfx train` learns them in one model (--holdout NAME=VALUE keeps one for scoring)",
            highlight=False,
        )
    for e in report.errors:
        console.print(f"[red]error[/]: {e}", highlight=False)
    for w in report.all_warnings:
        console.print(f"[yellow]warning[/]: {w}", highlight=False)


def plot_report(report: DatasetReport, path: str | Path | None = None) -> Path:
    """Waveforms and spectra of each pair (corrected when possible) to ``DATA/check.png``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path) if path else report.data_dir / "check.png"
    shown = report.pairs[:6]
    fig = Figure(figsize=(12, 3 * len(shown)))
    FigureCanvasAgg(fig)
    for row, r in enumerate(shown):
        x, y = r.x, r.y
        if x is None:  # unusable pair: show the raw files, NaN as 0
            x = np.nan_to_num(read_with_stats(r.pair.input_path)[0]) if r.input else None
            y = np.nan_to_num(read_with_stats(r.pair.output_path)[0]) if r.output else None
        wave, spec = (
            fig.add_subplot(len(shown), 2, 2 * row + 1),
            fig.add_subplot(len(shown), 2, 2 * row + 2),
        )
        for label, a, s in (("output", y, r.output), ("input", x, r.input)):
            if a is None or not len(a):
                continue
            rate = SAMPLE_RATE_HZ if r.x is not None else s.sample_rate_hz
            wave.plot(np.arange(len(a)) / rate, a, lw=0.4, alpha=0.8, label=label)
            f, p = signal.welch(a.astype(np.float64), fs=rate, nperseg=min(4096, len(a)))
            spec.semilogx(f[1:], 10 * np.log10(p[1:] + 1e-20), lw=0.8, label=label)
        wave.set(title=f"{r.pair.output_path.name}: {r.verdict}", xlabel="s")
        spec.set(title="power spectral density", xlabel="Hz", ylabel="dB")
        wave.legend(loc="upper right")
        spec.legend(loc="upper right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return write_bytes_atomic(path, buf.getvalue())
