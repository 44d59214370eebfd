"""The report's HTML page: tables, figures and an audio player per run, linked by relative path.

It is plain HTML with inline CSS and no scripts, so the folder can be moved, zipped or served.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from urllib.parse import quote

from ..training.runs import RunPaths
from . import plots, settings
from .records import RunRecord, columns, fmt


def _stale(png: Path, record: RunRecord) -> bool:
    src = RunPaths(record.root).analysis
    return not png.is_file() or png.stat().st_mtime < src.stat().st_mtime


def spectrum_png(record: RunRecord, page_dir: Path) -> Path:
    png = page_dir / "plots" / "spectra" / f"{record.row['run']}.png"
    if _stale(png, record):
        what = "test block,"
        if record.settings:
            what = "test block of each demo setting; trained settings together:"
        title = f"{record.row['run']}: {what} test ESR {record.row['test_esr']:.4g}"
        plots.spectra(record.spectra, png, title)
    return png


def settings_png(record: RunRecord, page_dir: Path) -> Path:
    png = page_dir / "plots" / "settings" / f"{record.row['run']}.png"
    if _stale(png, record):
        settings.esr_by_setting(record, png)
    return png


_CSS = """body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em}
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #ddd}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4;text-align:left}
figure{margin:1em 0}img{max-width:100%}figcaption{color:#555;font-size:13px}
section.run{border-top:1px solid #ccc;padding:.5em 0}.players{display:flex;gap:1.5em;flex-wrap:wrap}
.players figure{margin:.3em 0}code{background:#f4f4f4;padding:0 3px}
tr.held td{background:#fdecea}table.demo caption{text-align:left;color:#555;font-size:13px}"""


def render_page(
    title: str,
    summary: str,
    records: list[RunRecord],
    figures: list[tuple[str, Path]],
    page_dir: Path,
) -> str:
    def rel(p: Path) -> str:
        return html.escape(quote(os.path.relpath(p, page_dir).replace(os.sep, "/")))

    e = html.escape
    cols = columns([r.row for r in records])
    head = "".join(f"<th>{e(h)}</th>" for _, h in [("run", "run"), *cols])
    body = []
    for r in records:
        cells = [f'<td><a href="#{e(r.row["run"])}">{e(r.row["run"])}</a></td>']
        cells += [
            f'<td class="{"" if k in ("effect", "model", "loss") else "n"}">'
            f"{e(fmt(k, r.row.get(k)))}</td>"
            for k, _ in cols
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        '<link rel="icon" href="data:,">',
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{summary}</p>",
        "<h2>Results</h2>",
        f'<table id="results"><thead><tr>{head}</tr></thead>',
        f"<tbody>{''.join(body)}</tbody></table>",
        "<p>RTF: seconds of compute per second of audio on one thread (below 1 is faster "
        "than real time).</p>",
    ]
    if figures:
        out.append("<h2>Plots</h2>")
        out += [
            f'<figure><img src="{rel(p)}" alt="{e(c)}"><figcaption>{e(c)}</figcaption></figure>'
            for c, p in figures
        ]
    out.append("<h2>Runs</h2>")
    for r in records:
        players = "".join(
            f'<figure><figcaption>{e(cap)}</figcaption><audio controls preload="metadata" '
            f'src="{rel(path)}"></audio></figure>'
            for cap, path in r.audio.items()
            if path
        )
        spec = r.row.get("effect_spec") or r.row["effect"]
        over = " over the trained settings" if r.settings else ""
        where = (
            "the test block of each demo setting (held-out ones say so)"
            if r.settings
            else "the test block"
        )
        out += [
            f'<section class="run" id="{e(r.row["run"])}"><h3>{e(r.row["run"])}</h3>',
            f"<p>effect <code>{e(spec)}</code>; test ESR{over} "
            f"{fmt('test_esr', r.row['test_esr'])}, epochs {r.row['epochs']} (best "
            f"{r.row['best_epoch']}, stopped by {e(str(r.row['stopped_by']))})</p>",
            f'<div class="players">{players}</div>',
            *([settings.settings_html(r, settings_png(r, page_dir), rel)] if r.settings else []),
            f'<figure><img src="{rel(spectrum_png(r, page_dir))}" alt="spectrum of '
            f'{e(r.row["run"])}"><figcaption>Welch spectra of target and prediction on '
            f"{where}</figcaption></figure></section>",
        ]
    out.append("</body></html>\n")
    return "\n".join(out)
