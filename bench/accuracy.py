"""Accuracy at a budget: test ESR after the same training time for ours, the baseline and NAM.

For each built-in dataset, in turn: ``neuralfx.train`` with its defaults, the lab's baseline
recipe (bench/baseline.py), then NAM's LSTM and smallest WaveNet (bench/nam_train.py, in its
own venv). All get the same budget of training time (validation excluded for all four) and
every model is scored by the same function on the same test block: ESR over the whole block,
state carried from the model's initial state.

    python bench/accuracy.py [--budget 180] [--effects lowpass,fuzz] [--no-nam] [--fresh]
    python bench/accuracy.py --effects resonant --only nam_lstm   # redo one cell, keep the rest
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from baseline import train_baseline
from common import (
    BENCH,
    EFFECTS,
    OUT,
    THREADS,
    budget_from_env,
    ensure_dataset,
    load_json,
    machine_note,
    save_json,
    split_of,
    test_esr,
)

import neuralfx
from neuralfx.config import TrainConfig, to_dict
from neuralfx.data import find_pairs
from neuralfx.export import load_model
from neuralfx.losses import esr

NAM_PYTHON = OUT / "nam-venv" / "bin" / "python"
NAM_ARCHS = ("lstm", "wavenet")


def run_ours(data_dir: Path, split, budget_s: float, threads: int) -> dict:
    run_name = f"bench-accuracy-{int(budget_s)}s"
    shutil.rmtree(data_dir / "runs" / run_name, ignore_errors=True)
    cfg = TrainConfig(
        data_dir=str(data_dir),
        run_name=run_name,
        budget_s=budget_s,
        threads=threads,
        quiet=True,
        render_every=0,
    )
    t0 = time.perf_counter()
    r = neuralfx.train(cfg)
    wall = time.perf_counter() - t0
    model, _ = load_model(r.model_path)
    return {
        "test_esr": test_esr(model, split),
        "train_seconds": r.train_seconds,
        "wall_seconds": wall,
        "epochs": r.epochs,
        "best_epoch": r.best_epoch,
        "parameters": r.parameters,
        "stopped_by": r.stopped_by,
        "config": to_dict(cfg),
    }


def run_baseline(split, budget_s: float, threads: int) -> dict:
    t0 = time.perf_counter()
    b = train_baseline(split, budget_s, threads=threads)
    wall = time.perf_counter() - t0
    torch.set_num_threads(threads)
    return {
        "test_esr": test_esr(b.model, split),
        "train_seconds": b.train_seconds,
        "wall_seconds": wall,
        "epochs": b.epochs,
        "best_epoch": b.best_epoch,
        "steps": b.steps,
        "parameters": sum(p.numel() for p in b.model.parameters()),
    }


def run_nam(arch: str, data_dir: Path, split, budget_s: float, threads: int) -> dict:
    if not NAM_PYTHON.is_file():
        return {"skipped": f"{NAM_PYTHON} missing: see bench/README.md for the NAM venv"}
    pair = find_pairs(data_dir)[0]
    n_train, n_val = len(split.train_x), len(split.val_x)
    out = OUT / "nam" / data_dir.name / arch
    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        str(NAM_PYTHON),
        str(BENCH / "nam_train.py"),
        "--arch",
        arch,
        "--x",
        str(pair.input_path),
        "--y",
        str(pair.output_path),
        "--train-stop",
        str(n_train),
        "--val-stop",
        str(n_train + n_val),
        "--budget",
        str(budget_s),
        "--threads",
        str(threads),
        "--out",
        str(out),
    ]
    log = OUT / "nam" / f"{data_dir.name}-{arch}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with open(log, "w") as f:
        try:
            # a batch can overrun the budget; past 3x + 5 min something is wrong
            proc = subprocess.run(
                cmd, stdout=f, stderr=subprocess.STDOUT, timeout=3 * budget_s + 300
            )
        except subprocess.TimeoutExpired:
            return {"skipped": f"timed out; see {log}"}
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not (out / "test_prediction.npy").is_file():
        return {"skipped": f"exit {proc.returncode}; see {log}"}
    pred = np.load(out / "test_prediction.npy")
    if len(pred) != len(split.test_y):
        return {"skipped": f"prediction has {len(pred)} samples, test block {len(split.test_y)}"}
    summary = load_summary(out)
    return {"test_esr": esr(split.test_y, pred), "wall_seconds": wall, **summary}


def load_summary(out: Path) -> dict:
    import json

    s = json.loads((out / "summary.json").read_text())
    return {k: s[k] for k in ("train_seconds", "epochs", "parameters", "sample_rate_hz")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--budget",
        type=float,
        default=budget_from_env(),
        help="training seconds per trainer and dataset (env BENCH_BUDGET)",
    )
    p.add_argument("--threads", type=int, default=THREADS)
    p.add_argument(
        "--nam-threads",
        type=int,
        default=1,
        help="torch threads for NAM; 1 is its faster setting here (see RESULTS.md)",
    )
    p.add_argument("--effects", default=",".join(EFFECTS))
    p.add_argument("--no-nam", action="store_true")
    p.add_argument("--fresh", action="store_true", help="recreate the datasets")
    p.add_argument(
        "--only",
        default="",
        help="comma-separated trainers to run (ours, baseline, nam_lstm, "
        "nam_wavenet, and baseline_1t: the baseline on one thread, not run "
        "by default); the others keep their results from the last run",
    )
    args = p.parse_args(argv)

    effects = [e for e in args.effects.split(",") if e]
    only = set(filter(None, args.only.split(","))) or {
        "ours",
        "baseline",
        "nam_lstm",
        "nam_wavenet",
    }
    previous = load_json("accuracy") or {}
    keep = previous.get("rows", {}) if previous.get("budget_s") == args.budget else {}
    result = {
        **previous,
        "budget_s": args.budget,
        "threads": args.threads,
        "nam_threads": args.nam_threads,
        "rows": keep,
    }
    if only == {"ours", "baseline", "nam_lstm", "nam_wavenet"} or "machine" not in result:
        result.update(machine=machine_note(), command=" ".join(sys.argv))
        result.pop("reruns", None)
    else:
        result.setdefault("reruns", []).append(
            {"command": " ".join(sys.argv), "machine": machine_note()}
        )
    for effect in effects:
        data_dir = ensure_dataset(effect, args.fresh)
        split = split_of(data_dir)
        row = result["rows"].setdefault(effect, {})
        if "ours" in only:
            print(f"{effect}: ours", flush=True)
            row["ours"] = run_ours(data_dir, split, args.budget, args.threads)
            save_json("accuracy", result)
        if "baseline" in only:
            print(f"{effect}: baseline", flush=True)
            row["baseline"] = run_baseline(split, args.budget, args.threads)
            save_json("accuracy", result)
        if "baseline_1t" in only:
            print(f"{effect}: baseline on 1 thread", flush=True)
            row["baseline_1t"] = run_baseline(split, args.budget, 1)
            save_json("accuracy", result)
        for arch in NAM_ARCHS:
            if f"nam_{arch}" not in only:
                continue
            if args.no_nam:
                row[f"nam_{arch}"] = {"skipped": "--no-nam"}
                continue
            print(f"{effect}: NAM {arch}", flush=True)
            row[f"nam_{arch}"] = run_nam(arch, data_dir, split, args.budget, args.nam_threads)
            save_json("accuracy", result)
        line = "  ".join(f"{k} {v['test_esr']:.4g}" for k, v in row.items() if "test_esr" in v)
        print(f"{effect}: test ESR  {line}", flush=True)
    result["loadavg_end"] = machine_note()["loadavg_1m"]
    save_json("accuracy", result)
    print(f"-> {OUT / 'accuracy.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
