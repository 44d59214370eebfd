"""Knob capture: one conditioned model of every setting against one dedicated model per setting.

The effect is Debian's sox ``overdrive GAIN COLOUR`` (a DSP neuralfx does not contain) at a grid
of gains, all recorded from the same clean input, as a knob capture is (``DATA/knobs.csv``,
knob ``gain[dB]``). In one run, at equal total training time T:

* **conditioned**: one model of all settings for T seconds, the held-out setting (an inner one
  of the grid) kept out of training and validation (``TrainConfig.holdout``), with the default
  knob teacher (``training/knob_teacher.py``);
* **conditioned without the teacher** (``knob_teacher="off"``): the same from the recordings
  alone;
* **dedicated T/n**: one model per setting (``output_name``), each for T / n seconds;
* **dedicated T**: a model of the held-out setting alone for T seconds, the best a single
  capture of it does with the whole budget.

They run two at a time, one core each (``threads=1``): the conditioned model beside the
dedicated T one, then the conditioned one without the teacher beside the dedicated T/n ones
(which run one after the other in one process).

Score: ESR over a phrase no model trained or validated on (another seed of
``neuralfx.dsp.signals.clean_signal``, through the same sox settings), from a zero state with
the state carried, as a plugin plays it. The loader's own test block per setting (the last
10 % of the training phrase, split in time) is kept in the JSON as a cross-check.

    python bench/knobs.py [--budget 180] [--gains 10,20,30,40] [--holdout 20] [--quick]
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

import numpy as np
import ttq_data
from common import OUT, fmt, machine_note, save_json_at

WORK = OUT / "knobs"
COLOUR = 20
KNOB = "gain"
FULL = {"gains": "10,20,30,40", "train_s": ttq_data.TRAIN_S, "heldout_s": ttq_data.HELDOUT_S}
QUICK = {"gains": "10,20,30", "train_s": 4.0, "heldout_s": 1.0, "budget": 1.5}


def output_stem(gain: float) -> str:
    return f"overdrive_{gain:g}db"


def ensure_data(
    work: Path, gains: list[float], train_s: float, heldout_s: float
) -> tuple[Path, Path]:
    """The knob dataset and the unseen phrase through every setting (``heldout.npz``)."""
    if shutil.which("sox") is None:
        raise SystemExit("sox is not installed: apt-get install -y sox")
    tag = "-".join(f"{g:g}" for g in gains)
    root = work / f"data-g{tag}-c{COLOUR}-{train_s:g}s"
    heldout = root / "heldout.npz"
    if heldout.is_file():
        return root, heldout
    from neuralfx.audio import write_wav
    from neuralfx.data.knobs import merge_knobs
    from neuralfx.dsp.signals import clean_signal

    shutil.rmtree(root, ignore_errors=True)
    rate = ttq_data.RATE_HZ
    x = clean_signal(seed=ttq_data.TRAIN_SEED, duration_s=train_s, sample_rate_hz=rate)
    hx = clean_signal(seed=ttq_data.HELDOUT_SEED, duration_s=heldout_s, sample_rate_hz=rate)
    write_wav(root / "input" / "clean.wav", x, rate)
    phrases = {"x": hx}
    for g in gains:
        write_wav(root / "output" / f"{output_stem(g)}.wav", overdrive(x, g), rate)
        phrases[f"y_{g:g}"] = overdrive(hx, g)
    merge_knobs(root, [f"{KNOB}[dB]"], [(f"{output_stem(g)}.wav", [g]) for g in gains])
    tmp = root / "heldout.tmp.npz"
    np.savez(tmp, **phrases)
    os.replace(tmp, heldout)
    return root, heldout


def overdrive(x: np.ndarray, gain_db: float) -> np.ndarray:
    y = ttq_data.sox(x, f"overdrive {gain_db:g} {COLOUR}")[: len(x)]
    return np.clip(y, -1.0, 1.0).astype(np.float32)


def unseen_esr(model_path: str, heldout: Path, gains: list[float]) -> dict[str, float]:
    """ESR on the unseen phrase at each of ``gains``; a conditioned model gets each gain scaled
    by the range written in its own model file, as a plugin would scale its knob."""
    import torch

    from neuralfx.export import load_model
    from neuralfx.losses import esr
    from neuralfx.render import render_array, with_knobs

    torch.set_num_threads(1)
    model, meta = load_model(model_path)
    knobs = meta.get("knobs") or []
    phrases = np.load(heldout)
    out = {}
    for g in gains:
        x = phrases["x"]
        if knobs:
            (k,) = knobs
            x = with_knobs(x, [(g - k["lo"]) / (k["hi"] - k["lo"])])
        out[f"{g:g}"] = float(esr(phrases[f"y_{g:g}"], render_array(model, x)))
    return out


def worker(plan_path: Path) -> None:
    """Train the plan's models one after the other, each scored on the unseen phrase."""
    from neuralfx.config import TrainConfig
    from neuralfx.training import train

    plan = json.loads(plan_path.read_text())
    run_dir = plan_path.parent
    results = []
    for job in plan["jobs"]:
        cfg = TrainConfig(
            data_dir=plan["data_dir"],
            run_name=job["name"],
            runs_dir=str(run_dir),
            renders_dir=str(run_dir / job["name"]),
            output_name=job.get("output", ""),
            holdout=tuple(job.get("holdout", ())),
            knob_teacher=job.get("knob_teacher", "gain"),
            budget_s=job["budget_s"],
            threads=1,
            quiet=True,
            render_every=0,
        )
        t0 = time.perf_counter()
        r = train(cfg)
        wall_s = time.perf_counter() - t0
        results.append(
            {
                **job,
                "unseen_esr": unseen_esr(str(r.model_path), Path(plan["heldout"]), job["gains"]),
                "time_split_test_esr": (
                    {f"{s['knobs'][KNOB]:g}": s["test_esr"] for s in r.settings}
                    if r.settings
                    else {f"{job['gains'][0]:g}": r.test_esr}
                ),
                "epochs": r.epochs,
                "best_epoch": r.best_epoch,
                "train_seconds": r.train_seconds,
                # a wall-clock budget on a shared machine buys different work at different times
                "samples_per_s": r.samples_per_s,
                "wall_seconds": wall_s,
                "stopped_by": r.stopped_by,
                "parameters": r.parameters,
            }
        )
    tmp = run_dir / "result.tmp.json"
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    os.replace(tmp, run_dir / "result.json")


def plans(gains: list[float], held: float, budget_s: float) -> dict[str, list[dict]]:
    """The three workers' jobs: conditioned, dedicated T/n, dedicated T of the held-out gain."""
    each = budget_s / len(gains)
    return {
        "conditioned": [
            {
                "name": "conditioned",
                "holdout": [f"{KNOB}={held:g}"],
                "budget_s": budget_s,
                "gains": gains,
            }
        ],
        "conditioned_plain": [
            {
                "name": "conditioned_plain",
                "holdout": [f"{KNOB}={held:g}"],
                "budget_s": budget_s,
                "gains": gains,
                "knob_teacher": "off",
            }
        ],
        "dedicated_split": [
            {"name": f"dedicated_{g:g}", "output": output_stem(g), "budget_s": each, "gains": [g]}
            for g in gains
        ],
        "dedicated_full": [
            {
                "name": f"dedicated_{held:g}_full",
                "output": output_stem(held),
                "budget_s": budget_s,
                "gains": [held],
            }
        ],
    }


WAVES = (("conditioned", "dedicated_full"), ("conditioned_plain", "dedicated_split"))


def run_all(runs: Path, gains, held, budget_s, data_dir, heldout) -> dict[str, list[dict]]:
    """Run the workers two at a time (a core each on this 2-core machine) and collect them."""
    shutil.rmtree(runs, ignore_errors=True)
    jobs_of = plans(gains, held, budget_s)
    out: dict[str, list[dict]] = {}
    for wave in WAVES:
        out.update(run_wave(runs, {role: jobs_of[role] for role in wave}, data_dir, heldout))
    return out


def run_wave(runs: Path, roles: dict, data_dir, heldout) -> dict[str, list[dict]]:
    procs = {}
    for role, jobs in roles.items():
        d = runs / role
        d.mkdir(parents=True)
        plan = {"data_dir": str(data_dir), "heldout": str(heldout), "jobs": jobs}
        (d / "plan.json").write_text(json.dumps(plan, indent=2) + "\n")
        log = open(d / "worker.log", "w")  # noqa: SIM115 - closed with the process
        cmd = [sys.executable, __file__, "--worker", str(d / "plan.json")]
        env = dict(os.environ, OMP_NUM_THREADS="1")
        procs[role] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    out = {}
    for role, proc in procs.items():
        if proc.wait():
            raise SystemExit(f"the {role} worker failed; see {runs / role / 'worker.log'}")
        out[role] = json.loads((runs / role / "result.json").read_text())
    return out


def rows_of(results: dict[str, list[dict]], gains: list[float], held: float) -> list[dict]:
    cond = results["conditioned"][0]
    plain = results["conditioned_plain"][0]
    split = {job["gains"][0]: job for job in results["dedicated_split"]}
    full = results["dedicated_full"][0]
    rows = []
    for g in gains:
        k = f"{g:g}"
        row = {
            "gain_db": g,
            "holdout": g == held,
            "conditioned": cond["unseen_esr"][k],
            "conditioned_plain": plain["unseen_esr"][k],
            "dedicated_split": split[g]["unseen_esr"][k],
            "dedicated_full": full["unseen_esr"][k] if g == held else None,
            "time_split": {
                "conditioned": cond["time_split_test_esr"][k],
                "conditioned_plain": plain["time_split_test_esr"][k],
                "dedicated_split": split[g]["time_split_test_esr"][k],
                "dedicated_full": full["time_split_test_esr"][k] if g == held else None,
            },
        }
        row["ratio_split"] = row["conditioned"] / row["dedicated_split"]
        if g == held:
            row["ratio_full"] = row["conditioned"] / row["dedicated_full"]
        rows.append(row)
    return rows


def neighbour_average_esr(heldout: Path, gains: list[float], held: float) -> float:
    """ESR of the mean of the two neighbouring settings' true outputs as a guess of the held-out
    one: how far apart the grid's settings are, for reading the interpolation figure."""
    from neuralfx.losses import esr

    p = np.load(heldout)
    i = gains.index(held)
    guess = (p[f"y_{gains[i - 1]:g}"] + p[f"y_{gains[i + 1]:g}"]) / 2
    return float(esr(p[f"y_{held:g}"], guess))


def table(rows: list[dict], budget_s: float, n: int, key: str = "") -> str:
    """The markdown table; ``key="time_split"`` reads the loader's test blocks instead."""
    t = f"{budget_s:g} s"
    lines = [
        f"| gain (dB) | conditioned, {t} | dedicated, {budget_s / n:g} s each "
        f"| conditioned / dedicated {budget_s / n:g} s | dedicated, {t} "
        f"| conditioned / dedicated {t} | conditioned without the teacher, {t} |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        v = r[key] if key else r
        ratio_full = v["conditioned"] / v["dedicated_full"] if r["holdout"] else None
        lines.append(
            f"| {r['gain_db']:g}{' (held out)' if r['holdout'] else ''} "
            f"| {fmt(v['conditioned'], 2)} | {fmt(v['dedicated_split'], 2)} "
            f"| {v['conditioned'] / v['dedicated_split']:.2f}x "
            f"| {fmt(v['dedicated_full'], 2)} "
            f"| {f'{ratio_full:.2f}x' if ratio_full else ''} "
            f"| {fmt(v['conditioned_plain'], 2)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, help="conditioned model's seconds, T (default 180)")
    p.add_argument("--gains", help=f"overdrive gains in dB (default {FULL['gains']})")
    p.add_argument("--holdout", type=float, help="the held-out gain (default: the second)")
    p.add_argument("--quick", action="store_true", help="a smoke test: tiny data, 1.5 s budget")
    p.add_argument("--out", type=Path, default=OUT / "knobs.json")
    p.add_argument("--work", type=Path, default=WORK, help="datasets and runs (bench/out/knobs)")
    p.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker)
        return 0
    preset = QUICK if args.quick else FULL
    budget_s = args.budget or preset.get("budget", 180.0)
    gains = [float(g) for g in (args.gains or preset["gains"]).split(",")]
    held = args.holdout if args.holdout is not None else gains[1]
    if held not in gains[1:-1]:
        raise SystemExit(f"--holdout {held:g}: pick an inner gain of {gains}")
    t0 = time.perf_counter()
    data_dir, heldout = ensure_data(args.work, gains, preset["train_s"], preset["heldout_s"])
    runs = args.work / f"runs-{'quick' if args.quick else 'full'}-h{held:g}-t{budget_s:g}"
    results = run_all(runs, gains, held, budget_s, data_dir, heldout)
    rows = rows_of(results, gains, held)
    wall_s = time.perf_counter() - t0
    payload = {
        "command": " ".join(["bench/knobs.py", *(sys.argv[1:] if argv is None else argv)]),
        "effect": f"sox overdrive GAIN {COLOUR}",
        "gains_db": gains,
        "holdout_db": held,
        "budget_s": budget_s,
        "quick": args.quick,
        "train_phrase_s": preset["train_s"],
        "unseen_phrase_s": preset["heldout_s"],
        "score": "ESR on an unseen phrase (clean_signal seed "
        f"{ttq_data.HELDOUT_SEED}; training seed {ttq_data.TRAIN_SEED}), zero state",
        "neighbour_average_esr": neighbour_average_esr(heldout, gains, held),
        "rows": rows,
        "runs": results,
        "wall_seconds": wall_s,
        "machine": machine_note(),
    }
    save_json_at(args.out, payload)
    n = len(gains)
    print(f"sox overdrive GAIN {COLOUR}; ESR on an unseen phrase (not the training phrase):")
    print(table(rows, budget_s, n))
    print("\ncross-check, the loader's test block (last 10 % of the training phrase):")
    print(table(rows, budget_s, n, "time_split"))
    print(
        f"\nneighbours' average as a guess of {held:g} dB: ESR "
        f"{fmt(payload['neighbour_average_esr'], 2)}; wall {wall_s:.0f} s; {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
