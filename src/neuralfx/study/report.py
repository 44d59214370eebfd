"""Reports: ``results.csv``, ``results.md``, ``plots/*.png`` and ``report.html``.

``write_study_report(STUDY_DIR)`` covers every finished run of the study's grid,
``write_run_report(RUN_DIR)`` makes the same page for one run of ``neuralfx train``, and
``write_markdown(STUDY_DIR, "docs/study.md")`` refreshes the generated block of a doc page while
keeping the prose around it. The HTML page links images and audio by relative path, so the
folder can be moved, zipped or served as it is.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import json
import os
from pathlib import Path
from urllib.parse import quote

from ..audio import write_bytes_atomic, write_text_atomic
from ..config import LossConfig, load_config
from ..data import read_sidecar
from ..errors import RunError
from ..export import load_model
from ..training.dynamics import DYNAMICS_PRE_EMPHASIS, PLAIN_PRE_EMPHASIS
from ..training.runs import RunPaths, find_guitar
from . import plots
from .analysis import analyse_run, render_target, setting_chain
from .page import render_page
from .records import RunRecord, load_record, markdown_table, write_tables
from .settings import settings_markdown
from .spec import config_label, load_study
from .tasks import TARGET_RENDER, knob_target, make_tasks

BEGIN = "<!-- begin: written by `neuralfx report --markdown`; edits inside are replaced -->"
END = "<!-- end: written by `neuralfx report --markdown` -->"


def collect_study(study_dir: Path) -> tuple[list[RunRecord], list[str]]:
    """Finished runs of the grid in grid order, and the ids of the runs not finished."""
    if not (study_dir / "study.toml").is_file():
        raise RunError(
            f"{study_dir}: no study.toml, so not a sweep folder; "
            "`neuralfx sweep STUDY.toml` makes one"
        )
    records, missing = [], []
    for task in make_tasks(load_study(study_dir / "study.toml"), study_dir):
        root = task.paths.root
        if not (task.paths.result.is_file() and task.paths.analysis.is_file()):
            missing.append(task.config.run_name)
            continue
        data = Path(task.config.data_dir)
        target = data / TARGET_RENDER
        records.append(
            load_record(
                root,
                Path(task.guitar) if Path(task.guitar).is_file() else None,
                target if target.is_file() else None,
                functools.partial(knob_target, data),
            )
        )
    return records, missing


def write_report(folder: str | Path, markdown: str | Path | None = None) -> list[Path]:
    """``neuralfx report``: a study folder (study.toml) or one run folder (config.json)."""
    folder = Path(folder)
    if (folder / "study.toml").is_file():
        made = [write_study_report(folder)]
        return made + [write_markdown(folder, markdown)] if markdown else made
    if RunPaths(folder).config.is_file():
        if markdown:
            raise RunError(f"{folder}: --markdown is for a study folder; this is one run")
        return [write_run_report(folder)]
    raise RunError(f"{folder}: neither a study folder (no study.toml) nor a run (no config.json)")


def write_study_report(study_dir: str | Path) -> Path:
    study_dir = Path(study_dir)
    records, missing = collect_study(study_dir)
    rows = [r.row for r in records]
    write_tables(study_dir, rows, missing, _setting_tables(records))
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
    page = render_page(f"neuralfx study: {name}", summary, records, figures, study_dir)
    return write_text_atomic(study_dir / "report.html", page)


def write_run_report(run_dir: str | Path) -> Path:
    """The study page for one run: table, validation curve, spectrum and the three players."""
    paths = RunPaths(Path(run_dir))
    if not paths.result.is_file():
        raise RunError(
            f"{paths.root}: has no {paths.result.name} (not finished); finish it with "
            "`neuralfx train DATA --resume RUN` first"
        )
    cfg = load_config(paths.config)
    guitar = find_guitar(cfg.data_dir)
    _, meta = load_model(paths.model)
    name = str(meta.get("effect") or cfg.output_name)
    made = None if meta.get("knobs") else read_sidecar(cfg.data_dir, name)
    spec = made.spec if made else _knobs_spec(name, meta.get("knobs") or [])
    analysed = paths.analysis
    if not analysed.is_file() or analysed.stat().st_mtime < paths.result.stat().st_mtime:
        m = cfg.model
        analyse_run(
            paths.root,
            guitar,
            {
                "run": paths.root.name,
                "effect": name,
                "effect_spec": spec,
                "model": m.name,
                "hidden": m.hidden_size,
                "layers": m.num_layers,
                "loss": _loss_label(cfg.loss),
                "seed": cfg.seed,
                "config_label": config_label(m.name, m.hidden_size, m.num_layers),
            },
        )
    target, rate = paths.guitar_target, int(meta.get("sample_rate_hz", 44100))
    if made and guitar and not target.is_file():
        render_target(made.chain(), guitar, target, rate)
    if meta.get("knobs") and guitar:
        for d in json.loads(analysed.read_text(encoding="utf-8")).get("demo", []):
            chain = setting_chain(cfg.data_dir, d["output"])
            at = paths.guitar_target_at(d["label"])
            if chain is not None and not at.is_file():
                render_target(chain, guitar, at, rate)
    record = load_record(
        paths.root, guitar, target if target.is_file() else None, paths.guitar_target_at
    )
    write_tables(paths.root, [record.row], [], _setting_tables([record]))
    figures = [
        (
            "Validation ESR per epoch",
            plots.loss_curves([record.row], [record.metrics], paths.root / "plots" / "val_esr.png"),
        )
    ]
    page = render_page(
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
            *(f"{t}\n" for t in _setting_tables(records)),
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


def _setting_tables(records: list[RunRecord]) -> list[str]:
    return [settings_markdown(r) for r in records if r.settings]


def _knobs_spec(name: str, knobs: list[dict]) -> str:
    """``drive, knobs drive_db 0..24 dB``: a knob run's effect as its model file states it."""
    if not knobs:
        return ""
    return f"{name}, knobs " + ", ".join(
        f"{k['name']} {k['lo']:g}..{k['hi']:g}" + (f" {k['unit']}" if k.get("unit") else "")
        for k in knobs
    )


def _loss_label(loss: LossConfig) -> str:
    pre = loss.pre_emphasis
    resolved = (None, PLAIN_PRE_EMPHASIS, DYNAMICS_PRE_EMPHASIS)  # what a run's data made of it
    if loss == dataclasses.replace(LossConfig(), pre_emphasis=pre) and pre in resolved:
        return "default"
    pre_text = "auto" if pre is None else f"{pre:g}"
    return f"esr {loss.esr_weight:g}, dc {loss.dc_weight:g}, pre {pre_text}"


def _regenerate(study_dir: Path) -> str:
    made = study_dir / "sweep.json"
    command = json.loads(made.read_text()).get("command") if made.is_file() else None
    return f"Regenerate with <code>{html.escape(command)}</code>." if command else ""
