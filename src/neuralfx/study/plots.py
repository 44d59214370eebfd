"""PNG figures for reports: ESR heatmap, ESR vs parameters, validation curves, spectra
(the knob runs' ESR per setting is in ``settings.py``).

Built on ``matplotlib.figure.Figure`` rather than pyplot, so no global backend or figure state
is touched (safe in workers and tests, no display needed). Inputs are the report's row dicts
(``effect``, ``config_label``, ``model``, ``parameters``, ``test_esr``) plus metrics and spectra.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from statistics import median
from typing import Any

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from ..audio import write_bytes_atomic

DPI = 110
_MARKERS = "os^Dv<>PX*"


def save(fig: Figure, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return write_bytes_atomic(path, buf.getvalue())


def plain_log_labels(axis) -> None:
    """ "0.01" and "300" instead of 10^-2 and 3x10^2; on an axis spanning less than a decade
    or so, a few minor ticks (2, 3, 5 x 10^n) are labelled too, so it has some numbers."""
    lo, hi = sorted(axis.get_view_interval())
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    axis.set_major_formatter(plain)
    if lo > 0 and hi / lo < 20:
        axis.set_minor_locator(LogLocator(subs=(2.0, 3.0, 5.0)))
        axis.set_minor_formatter(plain)
    else:
        axis.set_minor_formatter(NullFormatter())


def _ordered(values: Sequence[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def esr_heatmap(rows: list[dict[str, Any]], path: Path, title: str = "test ESR") -> Path:
    """Effects down, model configurations across; the median over seeds when there are several."""
    effects = _ordered(r["effect"] for r in rows)
    configs = _ordered(r["config_label"] for r in rows)
    cells: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        cells.setdefault((r["effect"], r["config_label"]), []).append(r["test_esr"])
    grid = np.full((len(effects), len(configs)), np.nan)
    for (e, c), vals in cells.items():
        finite = [v for v in vals if math.isfinite(v) and v > 0]
        if finite:
            grid[effects.index(e), configs.index(c)] = median(finite)
    fig = Figure(
        figsize=(1.0 + 0.95 * len(configs), 0.9 + 0.5 * len(effects)), layout="constrained"
    )
    ax = fig.add_subplot()
    ok = grid[np.isfinite(grid)]
    lo, hi = (ok.min(), ok.max()) if ok.size else (1e-3, 1.0)
    norm = LogNorm(vmin=lo, vmax=hi if hi > lo else lo * 10)
    colour_map = cmap("viridis_r")
    im = ax.imshow(np.ma.masked_invalid(grid), cmap=colour_map, norm=norm, aspect="auto")
    for i in range(len(effects)):
        for j in range(len(configs)):
            v = grid[i, j]
            text = "-" if not np.isfinite(v) else f"{v:.2g}" if v < 0.01 else f"{v:.3f}"
            dark = np.isfinite(v) and norm(v) > 0.55
            ax.text(
                j, i, text, ha="center", va="center", fontsize=8, color="white" if dark else "black"
            )
    ax.set_xticks(range(len(configs)), configs, rotation=35, ha="right", fontsize=9)
    ax.set_yticks(range(len(effects)), effects, fontsize=9)
    seeds = max((len(v) for v in cells.values()), default=1)
    ax.set_title(
        title + (f" (median of {seeds} seeds)" if seeds > 1 else "") + ", lower is better",
        fontsize=10,
    )
    bar = fig.colorbar(im, ax=ax, label="test ESR (log scale)", shrink=0.9)
    plain_log_labels(bar.ax.yaxis)
    return save(fig, path)


def cmap(name: str):
    from matplotlib import colormaps

    return colormaps[name].with_extremes(bad="#dddddd")  # grey: runs missing or failed


def esr_vs_parameters(rows: list[dict[str, Any]], path: Path) -> Path:
    """One colour per effect, one marker per architecture; lines join sizes of one family."""
    fig = Figure(figsize=(7.5, 4.6), layout="constrained")
    ax = fig.add_subplot()
    effects = _ordered(r["effect"] for r in rows)
    models = _ordered(r["model"] for r in rows)
    colours = cmap("tab10" if len(effects) <= 10 else "tab20")
    for i, effect in enumerate(effects):
        for j, model in enumerate(models):
            pts = sorted(
                (r["parameters"], r["test_esr"])
                for r in rows
                if r["effect"] == effect
                and r["model"] == model
                and math.isfinite(r["test_esr"])
                and r["test_esr"] > 0
            )
            if pts:
                x, y = zip(*pts)
                ax.plot(
                    x,
                    y,
                    marker=_MARKERS[j % len(_MARKERS)],
                    color=colours(i % colours.N),
                    linewidth=1,
                    markersize=6,
                    alpha=0.85,
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.margins(0.08)
    plain_log_labels(ax.xaxis)
    plain_log_labels(ax.yaxis)
    ax.set_xlabel("parameters")
    ax.set_ylabel("test ESR (lower is better)")
    ax.grid(True, which="both", alpha=0.25)
    handles = [
        ax.plot([], [], color=colours(i % colours.N), linewidth=3)[0] for i in range(len(effects))
    ]
    handles += [
        ax.plot([], [], color="grey", linestyle="", marker=_MARKERS[j % len(_MARKERS)])[0]
        for j in range(len(models))
    ]
    ax.legend(
        handles,
        [*effects, *models],
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        fontsize=8,
        frameon=False,
    )
    ax.set_title("test ESR against model size", fontsize=10)
    return save(fig, path)


def loss_curves(
    rows: list[dict[str, Any]], metrics: list[list[dict[str, float]]], path: Path
) -> Path:
    """Validation ESR per epoch: one panel per effect, one line per run."""
    effects = _ordered(r["effect"] for r in rows)
    ncols = min(4, len(effects))
    nrows = math.ceil(len(effects) / ncols)
    fig = Figure(figsize=(3.4 * ncols + 1.6, 2.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=False)
    seeds = len({r["seed"] for r in rows}) > 1

    def label_of(r: dict[str, Any]) -> str:
        return f"{r['config_label']} seed {r['seed']}" if seeds else r["config_label"]

    labels = _ordered(label_of(r) for r in rows)
    colours = cmap("tab10" if len(labels) <= 10 else "tab20")
    for k, effect in enumerate(effects):
        ax = axes[k // ncols][k % ncols]
        last = max(
            (e["epoch"] for r, m in zip(rows, metrics) if r["effect"] == effect for e in m),
            default=0,
        )
        ax.set_xlim(-0.3, max(last, 1) + 0.3)  # one epoch still gets a readable axis
        for r, m in zip(rows, metrics):
            vals = [
                (e["epoch"], e["val_esr"])
                for e in m
                if math.isfinite(e["val_esr"]) and e["val_esr"] > 0
            ]
            if r["effect"] != effect or not vals:
                continue
            label = label_of(r)
            x, y = zip(*vals)
            ax.plot(
                x,
                y,
                color=colours(labels.index(label) % colours.N),
                linewidth=1.2,
                marker="." if len(x) < 8 else None,
                label=label,
            )
        ax.set_yscale("log")
        plain_log_labels(ax.yaxis)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(effect, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(which="both", labelsize=7)
        ax.grid(True, which="both", alpha=0.25)
    for k in range(len(effects), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    axes[0][0].set_ylabel("validation ESR", fontsize=8)
    handles = [axes[0][0].plot([], [], color=colours(i % colours.N))[0] for i in range(len(labels))]
    fig.legend(handles, labels, loc="outside right center", fontsize=7, frameon=False)
    return save(fig, path)


def spectra(panels: Sequence[dict[str, Any]], path: Path, title: str) -> Path:
    """Welch spectra of target and prediction on a test block, on a log frequency axis: one
    panel per entry (``label``, ``holdout``, ``freq_hz``, ``target_db``, ``prediction_db``),
    as a knob run shows one per demo setting; an unlabelled single panel takes ``title``."""
    ncols = min(2, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = Figure(figsize=(6.4 if ncols == 1 else 10.0, 3.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, panel in enumerate(panels):
        ax = axes[k // ncols][k % ncols]
        f = np.asarray(panel["freq_hz"])
        t, p = np.asarray(panel["target_db"]), np.asarray(panel["prediction_db"])
        keep = f >= 20
        ax.semilogx(f[keep], t[keep], label="target", linewidth=1.3, color="#1f77b4")
        ax.semilogx(
            f[keep], p[keep], label="prediction", linewidth=1.0, color="#d62728", alpha=0.85
        )
        top = float(np.max(t[keep])) if keep.any() else 0.0
        ax.set_ylim(top - 100, top + 6)
        ax.set_xlim(20, float(f[-1]))
        ax.set_xlabel("frequency (Hz)")
        ax.set_ylabel("power (dB)")
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=8)
        label = panel.get("label") or ""
        held = " (held out: never trained on)" if panel.get("holdout") else ""
        esr = f", test ESR {panel['test_esr']:.4g}" if "test_esr" in panel else ""
        ax.set_title(f"{label}{held}{esr}" if label else title, fontsize=9)
    for k in range(len(panels), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    if len(panels) > 1 or panels[0].get("label"):
        fig.suptitle(title, fontsize=10)
    return save(fig, path)
