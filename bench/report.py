"""Write bench/RESULTS.md from the JSON that the bench scripts leave in bench/out/.

Tables and target verdicts are generated; the analysis (profiles, what changed in the trainer,
what is left) is bench/notes.md, appended as written.

    python bench/report.py
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH, ROOT, fmt, load_json

FLAT_MIB = 16.0  # rendering "flat in file length": 1 h within this of 1 min
CLOSE = 3.0  # a held-out knob setting "close to" a dedicated model: within this ratio of ESR
TRAINERS = (
    ("ours", "neuralfx (defaults)"),
    ("baseline", "baseline (lab recipe)"),
    ("nam_lstm", "NAM LSTM-32"),
    ("nam_wavenet", "NAM WaveNet c3"),
)
EXTRA = (("baseline_1t", "baseline, 1 thread (extra)"),)


def _machine(m: dict | None, end: float | None = None) -> str:
    if not m:
        return ""
    load = f"load avg (1 min) {m['loadavg_1m']}" + (f" at start, {end} at end" if end else "")
    return f"{m['time']}; {m['cpu']}, {m['cores']} cores; torch {m['torch']}; {load}"


def _ratio(r: float | None) -> str:
    if r is None:
        return "—"
    return f"{r:,.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def accuracy(acc: dict, verdicts: list) -> list[str]:
    trainers = TRAINERS + tuple(t for t in EXTRA if any(t[0] in r for r in acc["rows"].values()))
    lines = [
        f"## 1. Accuracy at a budget ({acc['budget_s']:g} s of training each)",
        "",
        f"Run: {_machine(acc.get('machine'), acc.get('loadavg_end'))}. "
        f"Threads: {acc['threads']} for ours and the baseline, {acc['nam_threads']} for "
        "NAM (see notes). Test ESR on the same test block (last 10 %), lower is better.",
        "",
        "| dataset | "
        + " | ".join(t[1] for t in trainers)
        + " | baseline / ours | best NAM / ours |",
        "|---|" + "---:|" * (len(trainers) + 2),
    ]
    detail = [
        "",
        "| dataset | trainer | test ESR | training s | wall s | epochs | parameters |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    miss_base, miss_nam = [], []
    for effect, row in acc["rows"].items():
        cells = []
        for key, label in trainers:
            r = row.get(key, {})
            why = str(r.get("skipped", "not run")).replace(f"{ROOT}/", "")
            cells.append(fmt(r["test_esr"]) if "test_esr" in r else f"skipped ({why})")
            if "test_esr" in r:
                over = r.get("train_seconds", 0) > 1.2 * acc["budget_s"]
                detail.append(
                    f"| {effect} | {label} | {fmt(r['test_esr'])} | "
                    f"{r.get('train_seconds', 0):.0f}{' (overran)' if over else ''} | "
                    f"{r.get('wall_seconds', 0):.0f} | "
                    f"{r.get('epochs', '')} | {r.get('parameters', '')} |"
                )
        ours = row.get("ours", {}).get("test_esr")
        base = row.get("baseline", {}).get("test_esr")
        nams = [row.get(k, {}).get("test_esr") for k in ("nam_lstm", "nam_wavenet")]
        nams = [n for n in nams if n is not None]
        ratio = base / ours if ours and base else None
        nam_ratio = min(nams) / ours if ours and nams else None
        cells += [_ratio(ratio), _ratio(nam_ratio)]
        lines.append(f"| {effect} | " + " | ".join(cells) + " |")
        if ratio is not None and ratio < 2:
            miss_base.append(f"{effect} ({ratio:.2f}x)")
        if nam_ratio is not None and nam_ratio < 1:
            miss_nam.append(f"{effect} (NAM's best is {1 / nam_ratio:.2f}x lower)")
    verdicts.append(
        (
            "test ESR <= half the baseline's on every dataset",
            "met" if not miss_base else "missed on " + ", ".join(miss_base),
        )
    )
    verdicts.append(
        (
            "test ESR no worse than NAM's best",
            "met" if not miss_nam else "missed on " + ", ".join(miss_nam),
        )
    )
    lines += ["", f"Command: `{acc.get('command', '')}`"]
    for r in acc.get("reruns", []):
        lines += ["", f"Cells redone with `{r['command']}` ({_machine(r['machine'])})."]
    return lines + ["", "Detail (training s excludes validation for all four trainers):"] + detail


def throughput(t: dict, verdicts: list) -> list[str]:
    ratio = t["ratio_median"]
    verdicts.append(
        (
            "training throughput >= 2x baseline (LSTM 32, same threads)",
            f"{'met' if ratio >= 2 else 'missed'}: {ratio:.1f}x",
        )
    )
    lines = [
        f"## 2. Training throughput (LSTM {t['hidden']}, {t['threads']} threads, "
        f"{t['seconds']:g} s x {t['rounds']} interleaved rounds)",
        "",
        f"Run: {_machine(t.get('machine'), t.get('loadavg_end'))}.",
        "",
        "| round | ours, trained samples/s | ours incl. warm-up | baseline samples/s |"
        + (" baseline, 1 thread |" if "baseline_1thread" in t else ""),
        "|---:|---:|---:|---:|" + ("---:|" if "baseline_1thread" in t else ""),
    ]
    for i, (o, b) in enumerate(zip(t["ours"], t["baseline"])):
        extra = (
            f" {t['baseline_1thread'][i]['trained_per_s']:,.0f} |"
            if "baseline_1thread" in t
            else ""
        )
        lines.append(
            f"| {i + 1} | {o['trained_per_s']:,.0f} | {o['processed_per_s']:,.0f} | "
            f"{b['trained_per_s']:,.0f} |{extra}"
        )
    lines += [
        "",
        f"Median of per-round ratios, ours / baseline: **{ratio:.1f}x**"
        + (
            f"; ours / baseline at 1 thread: **{t['ratio_1thread_median']:.1f}x**"
            if "ratio_1thread_median" in t
            else ""
        )
        + ".",
    ]
    return lines


def inference(inf: dict, verdicts: list) -> list[str]:
    lines = [
        f"## 3. Inference speed (times faster than real time, one core, "
        f"{inf['seconds']:g} s input)",
        "",
        f"Run: {_machine(inf.get('machine'), inf.get('loadavg_end'))}."
        + (f" C++ column skipped: {inf['cpp_note']}." if inf.get("cpp_note") else ""),
        "",
        "| model | hidden | Python (wall) | Python (CPU time) | C++ RTNeural (wall) "
        "| C++ (CPU time) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in inf["rows"]:
        py, cpp = r["python"], r["cpp"]
        c = (
            (f"{cpp['x_realtime']:.0f}x", f"{cpp.get('x_realtime_cpu', 0):.0f}x")
            if "x_realtime" in cpp
            else ("—", "—")
        )
        lines.append(
            f"| {r['model']} | {r['hidden']} | {py['x_realtime']:.1f}x | "
            f"{py['x_realtime_cpu']:.1f}x | {c[0]} | {c[1]} |"
        )
        if r["model"] == "lstm" and r["hidden"] == 16:
            ok = py["x_realtime"] >= 20
            verdicts.append(
                (
                    "`neuralfx render` >= 20x real time, LSTM-16, one core",
                    f"{'met' if ok else 'missed'}: {py['x_realtime']:.1f}x wall, "
                    f"{py['x_realtime_cpu']:.1f}x by CPU time",
                )
            )
    return lines


def memory(mem: dict, verdicts: list) -> list[str]:
    growth = mem["render_growth_mib"]
    verdicts.append(
        (
            "rendering memory flat in file length",
            f"{'met' if abs(growth) <= FLAT_MIB else 'missed'}: "
            f"{growth:+.1f} MiB from 1 min to {mem['hours']:g} h",
        )
    )
    lines = [
        "## 4. Peak resident memory",
        "",
        f"Run: {_machine(mem.get('machine'), mem.get('loadavg_end'))}.",
        "",
        "| process | peak RSS |",
        "|---|---:|",
        f"| python + import torch, neuralfx | {mem['import_only_mib']:.0f} MiB |",
        f"| training, ours (defaults, short run) | {mem['train_ours_mib']:.0f} MiB |",
        f"| training, baseline (short run) | {mem['train_baseline_mib']:.0f} MiB |",
    ]
    for label, r in mem["render"].items():
        lines.append(
            f"| `neuralfx render`, {label} file ({r['input_mb']:.0f} MB 16-bit) | "
            f"{r['peak_mib']:.0f} MiB |"
        )
    return lines


def knob_capture(k: dict, verdicts: list) -> list[str]:
    import knobs

    (held,) = [r for r in k["rows"] if r["holdout"]]
    verdicts.append(
        (
            f"conditioned model's held-out {held['gain_db']:g} dB near a dedicated model's",
            f"{'met' if held['ratio_full'] <= CLOSE else 'missed'}: "
            f"{held['ratio_full']:.2f}x the dedicated {k['budget_s']:g} s model's ESR",
        )
    )
    return [
        "## 5. Knob capture: one conditioned model against dedicated ones",
        "",
        f"Run: {_machine(k.get('machine'))}; {k['wall_seconds']:.0f} s wall. "
        f"{k['effect']}, gains {', '.join(f'{g:g}' for g in k['gains_db'])} dB, "
        f"{held['gain_db']:g} held out of the conditioned model. {k['score']}.",
        "",
        knobs.table(k["rows"], k["budget_s"], len(k["gains_db"])),
        "",
        f"Command: `{k.get('command', 'bench/knobs.py')}` (analysis in the notes below)",
    ]


def main() -> int:
    verdicts: list[tuple[str, str]] = []
    sections = []
    for name, fn in (
        ("accuracy", accuracy),
        ("throughput", throughput),
        ("inference", inference),
        ("memory", memory),
        ("knobs", knob_capture),
    ):
        data = load_json(name)
        sections.append(
            fn(data, verdicts)
            if data
            else [f"## {name}", "", f"not run (no bench/out/{name}.json)"]
        )
    out = [
        "# neuralfx benchmarks",
        "",
        "Generated by `bench/report.py` from `bench/out/*.json`; the analysis at the end is "
        "`bench/notes.md`. The machine is shared with other work, so every figure that "
        "matters is a ratio against a baseline measured in the same run.",
        "",
        "## Targets",
        "",
        "| target | result |",
        "|---|---|",
    ]
    out += [f"| {t} | {v} |" for t, v in verdicts] + [""]
    for s in sections:
        out += s + [""]
    notes = BENCH / "notes.md"
    if notes.is_file():
        out += [notes.read_text().rstrip(), ""]
    path = BENCH / "RESULTS.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(out))
    tmp.replace(path)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
