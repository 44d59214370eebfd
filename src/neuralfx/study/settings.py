"""What a report adds for a knob-conditioned run: the test ESR at each setting (a plot and a
table, held-out settings marked and named) and the guitar demo at the rendered settings.

A run's settings come from its ``analysis.json`` (``records.RunRecord.settings``), which
rescored them as training did; a plain run has none, and nothing here shows for it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter

from . import plots
from .records import RunRecord, fmt

HELD_COLOUR = "#d62728"
MAX_HELD_NAMED = 4  # the legend names this many held-out settings, then counts the rest


def knob_heading(knob: dict[str, Any]) -> str:
    """``drive_db (dB)``: a knob as an axis or a column names it."""
    return f"{knob['name']} ({knob['unit']})" if knob.get("unit") else str(knob["name"])


def held_labels(record: RunRecord) -> list[str]:
    return [s["label"] for s in record.settings if s["holdout"]]


def held_caption(record: RunRecord) -> str:
    """Which settings were held out (named), for captions and the legend."""
    held = held_labels(record)
    if not held:
        return "no setting held out"
    named = "; ".join(held[:MAX_HELD_NAMED])
    more = f" and {len(held) - MAX_HELD_NAMED} more" if len(held) > MAX_HELD_NAMED else ""
    return f"held out, never trained or validated on: {named}{more}"


def esr_by_setting(record: RunRecord, path: Path) -> Path:
    """Test ESR against the first knob, one line per value of the other knobs; held-out
    settings are hollow red diamonds, named in the legend; the dashed line is the test ESR
    over the trained settings together."""
    names = [k["name"] for k in record.knobs]
    groups: dict[tuple[float, ...], list[dict[str, Any]]] = {}
    for s in record.settings:
        groups.setdefault(tuple(s["knobs"][n] for n in names[1:]), []).append(s)
    fig = Figure(figsize=(7.0, 4.2), layout="constrained")
    ax = fig.add_subplot()
    colours = plots.cmap("tab10" if len(groups) <= 10 else "tab20")
    handles, labels = [], []
    for i, (rest, members) in enumerate(sorted(groups.items())):
        members = sorted(members, key=lambda s: s["knobs"][names[0]])
        ok = [s for s in members if _positive(s["test_esr"])]
        x = [s["knobs"][names[0]] for s in ok]
        colour = colours(i % colours.N)
        (line,) = ax.plot(x, [s["test_esr"] for s in ok], color=colour, marker="o", linewidth=1.2)
        if rest:
            handles.append(line)
            labels.append(", ".join(f"{n}={v:g}" for n, v in zip(names[1:], rest)))
        held = [s for s in ok if s["holdout"]]
        ax.plot(
            [s["knobs"][names[0]] for s in held],
            [s["test_esr"] for s in held],
            linestyle="",
            marker="D",
            markersize=11,
            markerfacecolor="none",
            markeredgecolor=HELD_COLOUR,
            markeredgewidth=2,
        )
    if not handles:
        handles.append(ax.plot([], [], color=colours(0), marker="o")[0])
        labels.append("trained settings")
    if held_labels(record):
        handles.append(
            ax.plot(
                [],
                [],
                linestyle="",
                marker="D",
                markerfacecolor="none",
                markeredgecolor=HELD_COLOUR,
                markeredgewidth=2,
            )[0]
        )
        labels.append(held_caption(record).replace(", never trained or validated on", ""))
    overall = record.row.get("test_esr")
    if _positive(overall):
        handles.append(ax.axhline(overall, color="grey", linestyle="--", linewidth=1))
        labels.append(f"trained settings together: {overall:.4g}")
    ax.set_yscale("log")
    plots.plain_log_labels(ax.yaxis)
    values = sorted({s["knobs"][names[0]] for s in record.settings})
    ax.xaxis.set_major_locator(FixedLocator(values))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(knob_heading(record.knobs[0]))
    ax.set_ylabel("test ESR (lower is better)")
    ax.grid(True, which="both", alpha=0.25)
    ax.margins(x=0.06, y=0.15)
    ax.legend(handles, labels, fontsize=8, loc="best")
    ax.set_title(f"{record.row['run']}: test ESR at each knob setting", fontsize=10)
    return plots.save(fig, path)


def _positive(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and v > 0


def _rows(record: RunRecord) -> tuple[list[str], list[list[str]]]:
    """The per-setting table as text cells: setting, each knob, trained or held out, ESR."""
    head = ["setting", *(knob_heading(k) for k in record.knobs), "trained", "test ESR"]
    rows = [
        [
            s["label"],
            *(f"{s['knobs'][k['name']]:g}" for k in record.knobs),
            "held out" if s["holdout"] else "yes",
            fmt("test_esr", s["test_esr"]),
        ]
        for s in record.settings
    ]
    return head, rows


def settings_markdown(record: RunRecord) -> str:
    """A knob run's per-setting table in markdown, under a heading naming the run."""
    head, rows = _rows(record)
    lines = [
        f"Test ESR of `{record.row['run']}` at each knob setting; {held_caption(record)}.",
        "",
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 3) + "---|---:|",
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    return "\n".join(lines)


def settings_html(record: RunRecord, plot: Path, rel: Callable[[Path], str]) -> str:
    """The plot, the table (held-out rows marked) and the demo players of one knob run."""
    e = html.escape
    head, rows = _rows(record)
    held = {s["label"] for s in record.settings if s["holdout"]}
    body = "".join(
        f'<tr class="{"held" if r[0] in held else "seen"}">'
        + "".join(
            f'<td class="{"" if j in (0, len(r) - 2) else "n"}">{e(c)}</td>'
            for j, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    caption = (
        f"Test ESR at each knob setting; {held_caption(record)}. The dashed line is the test "
        "ESR of the trained settings together (the run's test ESR)."
    )
    out = [
        f'<figure><img src="{rel(plot)}" alt="{e(caption)}"><figcaption>{e(caption)}'
        "</figcaption></figure>",
        f'<table class="settings"><thead><tr>{"".join(f"<th>{e(h)}</th>" for h in head)}'
        f"</tr></thead><tbody>{body}</tbody></table>",
    ]
    if record.demo:
        out.append(players_html(record, rel))
    return "\n".join(out)


def players_html(record: RunRecord, rel: Callable[[Path], str]) -> str:
    """The guitar demo at each rendered setting: the real effect and the model side by side."""
    e = html.escape

    def player(path: Path | None, what: str) -> str:
        if path is None:
            return f"<td>no {what} render</td>"
        return f'<td><audio controls preload="metadata" src="{rel(path)}"></audio></td>'

    rows = "".join(
        f'<tr class="{"held" if d["holdout"] else "seen"}"><td>{e(d["label"])}'
        f"{' <strong>(held out)</strong>' if d['holdout'] else ''}</td>"
        f"{player(d.get('target'), 'target')}{player(d.get('model'), 'model')}</tr>"
        for d in record.demo
    )
    return (
        '<table class="demo"><caption>The guitar demo at the rendered settings</caption>'
        "<thead><tr><th>setting</th><th>target effect</th><th>model</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )
