"""Reports: ``results.csv``, ``results.md``, ``plots/*.png`` and ``report.html``.

``write_study_report(STUDY_DIR)`` covers every finished run of the study's grid,
``write_run_report(RUN_DIR)`` makes the same page for one run of ``neuralfx train``, and
``write_markdown(STUDY_DIR, "docs/study.md")`` refreshes the generated block of a doc page while
keeping the prose around it. The HTML page links images and audio by relative path, so the
folder can be moved, zipped or served as it is.
"""

from __future__ import annotations

import csv
import html
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from . import plots
from .analysis import ANALYSIS, GUITAR_RENDER, analyse_run, effect_spec, render_target
from .audio import write_bytes_atomic, write_text_atomic
from .config import LossConfig, load_config
from .errors import RunError
from .export import load_model
from .runs import RunPaths, find_guitar, read_metrics

# (key, heading) of the tables; the CSV has these plus the columns after them
COLUMNS = (
    ("effect", "effect"),
    ("model", "model"),
    ("hidden", "hidden"),
    ("layers", "layers"),
    ("loss", "loss"),
    ("seed", "seed"),
    ("parameters", "parameters"),
    ("epochs", "epochs"),
    ("train_seconds", "training s"),
    ("test_esr", "test ESR"),
    ("rtf_python", "RTF Python"),
    ("rtf_cpp", "RTF C++"),
)
CSV_COLUMNS = ("run", *(k for k, _ in COLUMNS), "best_epoch", "stopped_by", "effect_spec")
BEGIN = "<!-- begin: written by `neuralfx report --markdown`; edits inside are replaced -->"
END = "<!-- end: written by `neuralfx report --markdown` -->"


@dataclass
class RunRecord:
    row: dict[str, Any]
    root: Path
    metrics: list[dict[str, float]]
    spectrum: dict[str, list[float]]
    audio: dict[str, Path | None]  # caption -> wav


def load_record(run_dir: Path, clean: Path | None, target: Path | None) -> RunRecord:
    result = json.loads((run_dir / "result.json").read_text(encoding="utf-8"))
    extra = json.loads((run_dir / ANALYSIS).read_text(encoding="utf-8"))
    spectrum = extra.pop("spectrum")
    row = {
        **extra,
        "parameters": result["parameters"],
        "epochs": result["epochs"],
        "train_seconds": round(result["train_seconds"], 1),
        "test_esr": result["test_esr"],
        "best_epoch": result["best_epoch"],
        "stopped_by": result["stopped_by"],
    }
    render = run_dir / GUITAR_RENDER
    audio = {
        "clean guitar": clean,
        "target effect": target,
        "model": render if render.is_file() else None,
    }
    return RunRecord(row, run_dir, read_metrics(run_dir / "metrics.csv"), spectrum, audio)


def collect_study(study_dir: Path) -> tuple[list[RunRecord], list[str]]:
    """Finished runs of the grid in grid order, and the ids of the runs not finished."""
    from .study import load_study
    from .sweep import TARGET_RENDER, make_tasks

    if not (study_dir / "study.toml").is_file():
        raise RunError(
            f"{study_dir}: no study.toml, so not a sweep folder; "
            "`neuralfx sweep STUDY.toml` makes one"
        )
    records, missing = [], []
    for task in make_tasks(load_study(study_dir / "study.toml"), study_dir):
        root = task.paths.root
        if not ((root / "result.json").is_file() and (root / ANALYSIS).is_file()):
            missing.append(task.config.run_name)
            continue
        data = Path(task.config.data_dir)
        target = data / TARGET_RENDER
        records.append(
            load_record(
                root,
                Path(task.guitar) if Path(task.guitar).is_file() else None,
                target if target.is_file() else None,
            )
        )
    return records, missing


def write_report(folder: str | Path, markdown: str | Path | None = None) -> list[Path]:
    """``neuralfx report``: a study folder (study.toml) or one run folder (config.json)."""
    folder = Path(folder)
    if (folder / "study.toml").is_file():
        made = [write_study_report(folder)]
        return made + [write_markdown(folder, markdown)] if markdown else made
    if (folder / "config.json").is_file():
        if markdown:
            raise RunError(f"{folder}: --markdown is for a study folder; this is one run")
        return [write_run_report(folder)]
    raise RunError(f"{folder}: neither a study folder (no study.toml) nor a run (no config.json)")


def write_study_report(study_dir: str | Path) -> Path:
    study_dir = Path(study_dir)
    records, missing = collect_study(study_dir)
    rows = [r.row for r in records]
    _write_tables(study_dir, rows, missing)
    plot_dir = study_dir / "plots"
    figures = []
    if rows:
        figures = [
            (
                "Test ESR per effect and model",
                plots.esr_heatmap(rows, plot_dir / "esr_heatmap.png"),
            ),
            (
                "Test ESR against parameter count",
                plots.esr_vs_parameters(rows, plot_dir / "esr_vs_parameters.png"),
            ),
            (
                "Validation ESR per epoch",
                plots.loss_curves(rows, [r.metrics for r in records], plot_dir / "val_esr.png"),
            ),
        ]
    name = study_dir.resolve().name
    summary = (
        f"{len(records)} finished runs"
        + (f"; not finished: {', '.join(missing)}" if missing else "")
        + f". {_regenerate(study_dir)}"
    )
    page = _page(f"neuralfx study: {name}", summary, records, figures, study_dir)
    return write_text_atomic(study_dir / "report.html", page)


def write_run_report(run_dir: str | Path) -> Path:
    """The study page for one run: table, validation curve, spectrum and the three players."""
    paths = RunPaths(Path(run_dir))
    if not paths.result.is_file():
        raise RunError(
            f"{paths.root}: has no result.json (not finished); finish it with "
            "`neuralfx train DATA --resume RUN` first"
        )
    cfg = load_config(paths.config)
    guitar = find_guitar(cfg.data_dir)
    _, meta = load_model(paths.model)
    name = str(meta.get("effect") or cfg.output_name)
    spec = effect_spec(cfg.data_dir, name)
    analysed = paths.root / ANALYSIS
    if not analysed.is_file() or analysed.stat().st_mtime < paths.result.stat().st_mtime:
        m = cfg.model
        label = f"{m.name}{m.hidden_size}" + (f"x{m.num_layers}" if m.num_layers > 1 else "")
        analyse_run(
            paths.root,
            guitar,
            {
                "run": paths.root.name,
                "effect": name,
                "effect_spec": spec or "",
                "model": m.name,
                "hidden": m.hidden_size,
                "layers": m.num_layers,
                "loss": _loss_label(cfg.loss),
                "seed": cfg.seed,
                "config_label": label,
            },
        )
    target = paths.root / "guitar_target.wav"
    if spec and guitar and not target.is_file():
        render_target(spec, guitar, target)
    record = load_record(paths.root, guitar, target if target.is_file() else None)
    _write_tables(paths.root, [record.row], [])
    figures = [
        (
            "Validation ESR per epoch",
            plots.loss_curves([record.row], [record.metrics], paths.root / "plots" / "val_esr.png"),
        )
    ]
    page = _page(
        f"neuralfx run: {paths.root.name}",
        f"Run folder {paths.root}.",
        [record],
        figures,
        paths.root,
    )
    return write_text_atomic(paths.root / "report.html", page)


def write_markdown(study_dir: str | Path, md_path: str | Path) -> Path:
    """Refresh the generated block of a doc page (table, heatmap, the regenerate command).

    Text outside the markers (findings written by hand) is kept; a new page gets a scaffold.
    """
    study_dir, md_path = Path(study_dir), Path(md_path)
    records, missing = collect_study(study_dir)
    heatmap = study_dir / "plots" / "esr_heatmap.png"
    if not heatmap.is_file():
        raise RunError(f"{heatmap}: missing; run `neuralfx report {study_dir}` first")
    image = md_path.parent / md_path.stem / "esr_heatmap.png"
    write_bytes_atomic(image, heatmap.read_bytes())
    command = (
        json.loads((study_dir / "sweep.json").read_text()).get("command", "")
        if (study_dir / "sweep.json").is_file()
        else ""
    )
    block = "\n".join(
        [
            BEGIN,
            "",
            f"{len(records)} runs from `{study_dir}`"
            + (f" ({len(missing)} not finished: {', '.join(missing)})" if missing else "")
            + ".",
            "",
            f"![Test ESR per effect and model]({quote(os.path.relpath(image, md_path.parent))})",
            "",
            markdown_table([r.row for r in records]),
            "",
            "Regenerate with:",
            "",
            "```sh",
            *([command] if command else []),
            f"neuralfx report {study_dir} --markdown {md_path}",
            "```",
            "",
            END,
        ]
    )
    old = md_path.read_text(encoding="utf-8") if md_path.is_file() else ""
    if BEGIN in old and END in old:
        text = old[: old.index(BEGIN)] + block + old[old.index(END) + len(END) :]
    else:
        text = (
            f"# The study\n\nEvery model of the grid trained on every effect for the same "
            f"budget; test ESR is measured on audio no model trained on.\n\n{block}\n\n"
            "## Findings\n\n_To be written from the table above._\n"
        )
    return write_text_atomic(md_path, text)


def _loss_label(loss: LossConfig) -> str:
    if loss == LossConfig():
        return "default"
    return f"esr {loss.esr_weight:g}, dc {loss.dc_weight:g}, pre {loss.pre_emphasis:g}"


def _regenerate(study_dir: Path) -> str:
    made = study_dir / "sweep.json"
    command = json.loads(made.read_text()).get("command") if made.is_file() else None
    return f"Regenerate with <code>{html.escape(command)}</code>." if command else ""


def _fmt(key: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if key == "test_esr":
        return f"{value:.4g}"
    if key.startswith("rtf"):
        return f"{value:.3g}"
    if key == "train_seconds":
        return f"{value:.0f}"
    return str(value)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| " + " | ".join(h for _, h in COLUMNS) + " |",
        "|"
        + "|".join("---:" if k not in ("effect", "model", "loss") else "---" for k, _ in COLUMNS)
        + "|",
    ]
    lines += ["| " + " | ".join(_fmt(k, r.get(k)) for k, _ in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def _write_tables(folder: Path, rows: list[dict[str, Any]], missing: list[str]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows({k: ("" if r.get(k) is None else r.get(k)) for k in CSV_COLUMNS} for r in rows)
    write_text_atomic(folder / "results.csv", buf.getvalue())
    note = f"\n\nNot finished: {', '.join(missing)}\n" if missing else "\n"
    write_text_atomic(folder / "results.md", markdown_table(rows) + note)


def _spectrum_png(record: RunRecord, page_dir: Path) -> Path:
    png = page_dir / "plots" / "spectra" / f"{record.row['run']}.png"
    src = record.root / ANALYSIS
    if not png.is_file() or png.stat().st_mtime < src.stat().st_mtime:
        s = record.spectrum
        plots.spectrum(
            s["freq_hz"],
            s["target_db"],
            s["prediction_db"],
            png,
            f"{record.row['run']}: test block, ESR {record.row['test_esr']:.4g}",
        )
    return png


_CSS = """body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em}
table{border-collapse:collapse;font-size:13px}th,td{padding:3px 8px;border-bottom:1px solid #ddd}
td.n{text-align:right;font-variant-numeric:tabular-nums}th{background:#f4f4f4;text-align:left}
figure{margin:1em 0}img{max-width:100%}figcaption{color:#555;font-size:13px}
section.run{border-top:1px solid #ccc;padding:.5em 0}.players{display:flex;gap:1.5em;flex-wrap:wrap}
.players figure{margin:.3em 0}code{background:#f4f4f4;padding:0 3px}"""


def _page(
    title: str,
    summary: str,
    records: list[RunRecord],
    figures: list[tuple[str, Path]],
    page_dir: Path,
) -> str:
    def rel(p: Path) -> str:
        return html.escape(quote(os.path.relpath(p, page_dir).replace(os.sep, "/")))

    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for _, h in [("run", "run"), *COLUMNS])
    body = []
    for r in records:
        cells = [f'<td><a href="#{e(r.row["run"])}">{e(r.row["run"])}</a></td>']
        cells += [
            f'<td class="{"" if k in ("effect", "model", "loss") else "n"}">'
            f"{e(_fmt(k, r.row.get(k)))}</td>"
            for k, _ in COLUMNS
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
        out += [
            f'<section class="run" id="{e(r.row["run"])}"><h3>{e(r.row["run"])}</h3>',
            f"<p>effect <code>{e(spec)}</code>; test ESR {_fmt('test_esr', r.row['test_esr'])}"
            f", epochs {r.row['epochs']} (best {r.row['best_epoch']}, stopped by "
            f"{e(str(r.row['stopped_by']))})</p>",
            f'<div class="players">{players}</div>',
            f'<figure><img src="{rel(_spectrum_png(r, page_dir))}" alt="spectrum of '
            f'{e(r.row["run"])}"><figcaption>Welch spectra of target and prediction on the '
            "test block</figcaption></figure></section>",
        ]
    out.append("</body></html>\n")
    return "\n".join(out)
