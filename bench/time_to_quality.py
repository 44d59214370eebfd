"""Time to quality: held-out ESR against training seconds, today's defaults against the new recipe.

For each effect, in one run: the recipe of commit ``BASE_COMMIT`` (``neuralfx train`` defaults
before issue 15) and of ``--new`` (HEAD), each from a ``git archive`` of its commit, train side
by side for ``--budget`` seconds, one core each, so both see the same load from the rest of the
machine. Every validation record is kept; the score at a mark of T seconds is the held-out ESR
of the record standing at T training seconds, which is what a run stopped at T would hold. The
new recipe plans its schedule over its budget, so a record early in a 180 s run is taken at a
high learning rate; runs with short budgets of their own (``--short``) measure what the new
recipe reaches when given only that time.

Scores: ESR over a held-out phrase (another seed of the clean signal, see ttq_data.py), run
from a zero state with the state carried, as a plugin would.

    python bench/time_to_quality.py [--effects sox_compander,fuzz] [--budget 180] [--short 20]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ttq_data
from common import OUT, ROOT, fmt, machine_note, save_json

BASE_COMMIT = "9390369"
MARKS_S = (10, 20, 45, 90, 180)
WORK = OUT / "ttq"


def source_at(commit: str) -> Path:
    """The package as committed at ``commit``, so edits made while the bench runs stay out."""
    sha = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", commit],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    dest = WORK / f"src-{sha}"
    if not (dest / "src" / "neuralfx" / "__init__.py").is_file():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", sha, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def worker(effect: str, run_dir: Path, budget_s: float) -> None:
    """Train with whichever neuralfx is on the path, keeping a copy of every record's model,
    then score the records standing at the marks on the held-out phrase."""
    import neuralfx
    from neuralfx.config import TrainConfig

    data_dir, hx, hy = ttq_data.ensure(WORK, effect)
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    cfg = TrainConfig(
        data_dir=str(data_dir),
        run_name="run",
        runs_dir=str(run_dir),
        renders_dir=str(run_dir),
        budget_s=budget_s,
        threads=1,
        quiet=True,
        render_every=0,
    )
    records = []

    def on_epoch(row: dict) -> None:
        model_json = run_dir / "run" / "model.json"
        meta = json.loads(model_json.read_text())["neuralfx"]
        if meta["epoch"] == row["epoch"]:
            copy = run_dir / f"record{row['epoch']}.json"
            shutil.copyfile(model_json, copy)
            records.append(
                {"seconds": row["seconds"], "val_esr": row["val_esr"], "path": str(copy)}
            )

    t0 = time.perf_counter()
    r = neuralfx.train(cfg, on_epoch=on_epoch)
    wall_s = time.perf_counter() - t0
    marks = [m for m in MARKS_S if m < budget_s * 0.99] + [budget_s]
    payload = {
        "package": neuralfx.__file__,
        "esr": score(records, marks, hx, hy),
        "records": records,
        "epochs": r.epochs,
        "train_seconds": r.train_seconds,
        "wall_seconds": wall_s,
        "stopped_by": r.stopped_by,
    }
    (run_dir / "result.json").write_text(json.dumps(payload, indent=2) + "\n")


def launch(src: Path, effect: str, run_dir: Path, budget_s: float) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(src), OMP_NUM_THREADS="1")
    cmd = [sys.executable, __file__, "--worker", effect, str(run_dir), str(budget_s)]
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    log = open(run_dir.with_suffix(".log"), "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


def heldout_esr(model_path: str, x, y) -> float:
    import torch

    from neuralfx.export import load_model
    from neuralfx.losses import esr
    from neuralfx.render import render_array

    torch.set_num_threads(1)
    model, _ = load_model(model_path)
    return float(esr(y, render_array(model, x)))


def score(records: list[dict], marks: list[float], x, y) -> dict[str, float | None]:
    """The held-out ESR of the record standing at each mark (None before the first); a step
    that starts before a budget runs out finishes, hence the small allowance."""
    out, cache = {}, {}
    for m in marks:
        standing = [r for r in records if r["seconds"] <= m * 1.05 + 0.5]
        if not standing:
            out[f"{m:g}"] = None
            continue
        path = standing[-1]["path"]
        if path not in cache:
            cache[path] = heldout_esr(path, x, y)
        out[f"{m:g}"] = cache[path]
    return out


def run_effect(effect: str, budget_s: float, short_s: list[float], old: Path, new: Path) -> dict:
    """The old and the new recipe side by side at the full budget, then at the short ones."""
    ttq_data.ensure(WORK, effect)  # once, before two workers would race to make it
    runs = WORK / "runs" / effect
    row: dict = {"effect": effect}
    for budget, tag in [(budget_s, "")] + [(s, f"_{s:g}s") for s in short_s]:
        jobs = {
            f"old{tag}": launch(old, effect, runs / f"old{tag}", budget),
            f"new{tag}": launch(new, effect, runs / f"new{tag}", budget),
        }
        for name, proc in jobs.items():
            if proc.wait():
                raise SystemExit(f"{effect}: the {name} run failed; see {runs / name}.log")
            result = json.loads((runs / name / "result.json").read_text())
            row[name] = {k: v for k, v in result.items() if k != "records"}
    return row


def table(rows: list[dict], short_s: list[float]) -> str:
    marks = [f"{m:g}" for m in MARKS_S]
    heads = [f"{m} s" for m in marks] + [f"{s:g} s budget" for s in short_s]
    lines = ["| effect | recipe | " + " | ".join(heads) + " |", "|" + "---|" * (len(heads) + 2)]
    for row in rows:
        got = {}
        for name in ("old", "new"):
            got[name] = [row[name]["esr"].get(m) for m in marks] + [
                row.get(f"{name}_{s:g}s", {}).get("esr", {}).get(f"{s:g}") for s in short_s
            ]
            cells = " | ".join(fmt(v, 2) for v in got[name])
            lines.append(f"| {row['effect']} | {name} | {cells} |")
        ratio = [f"{o / n:.3g}x" if o and n else "—" for o, n in zip(got["old"], got["new"])]
        lines.append(f"| {row['effect']} | old/new | " + " | ".join(ratio) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--effects", default=",".join(ttq_data.EFFECTS))
    p.add_argument("--budget", type=float, default=180.0)
    p.add_argument("--new", default="HEAD", help="the commit whose recipe is the new one")
    p.add_argument("--short", default="10,20", help="budgets of the short runs, comma-separated")
    p.add_argument("--worker", nargs=3, metavar=("EFFECT", "DIR", "S"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        effect, run_dir, budget = args.worker
        worker(effect, Path(run_dir), float(budget))
        return 0
    short_s = [float(s) for s in args.short.split(",") if s]
    old, new = source_at(BASE_COMMIT), source_at(args.new)
    prior = OUT / "time_to_quality.json"
    rows = (
        {r["effect"]: r for r in json.loads(prior.read_text())["rows"]} if prior.is_file() else {}
    )
    for effect in args.effects.split(","):
        t0 = time.perf_counter()
        rows[effect] = run_effect(effect, args.budget, short_s, old, new)
        rows[effect].update(machine=machine_note(), new_commit=new.parent.name[4:])
        summary = {"budget_s": args.budget, "short_s": short_s, "rows": list(rows.values())}
        save_json("time_to_quality", summary)
        print(f"{effect}: {time.perf_counter() - t0:.0f} s", flush=True)
        print(table([rows[effect]], short_s), flush=True)
    print(table(list(rows.values()), short_s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
