"""Training throughput: samples/s of ``neuralfx.train`` against the baseline, same LSTM 32.

Both run in this process with the same threads, interleaved (ours, baseline, ours, ...), so a
neighbour's load lands on both. A "trained sample" is one that reaches the loss and gets a
gradient; our warm-up samples (forward only, no gradient) are reported separately.

    python bench/throughput.py [--seconds 20] [--rounds 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from baseline import train_baseline
from common import OUT, THREADS, ensure_dataset, machine_note, save_json, split_of

import neuralfx
from neuralfx.config import ModelConfig, TrainConfig


def ours_once(data_dir: Path, seconds: float, threads: int, hidden: int, **overrides) -> dict:
    run_root = data_dir / "runs" / "throughput"
    shutil.rmtree(run_root, ignore_errors=True)
    base = TrainConfig()
    cfg = base.with_overrides(
        data_dir=str(data_dir),
        run_name="throughput",
        budget_s=seconds,
        threads=threads,
        quiet=True,
        render_every=0,
        early_stop_patience=10**6,
        model=ModelConfig(name="lstm", hidden_size=hidden),
        **overrides,
    )
    r = neuralfx.train(cfg)
    seg = cfg.warmup_samples + cfg.chunks_per_segment * cfg.chunk_samples
    trained = cfg.chunks_per_segment * cfg.chunk_samples / seg
    return {
        "processed_per_s": r.samples_per_s,
        "trained_per_s": r.samples_per_s * trained,
        "train_seconds": r.train_seconds,
        "epochs": r.epochs,
    }


def measure(
    seconds: float, rounds: int, threads: int, hidden: int = 32, effect: str = "softclip"
) -> dict:
    data_dir = ensure_dataset(effect)
    split = split_of(data_dir)
    ours, base, base1 = [], [], []
    for i in range(rounds):
        o = ours_once(data_dir, seconds, threads, hidden)
        b = train_baseline(split, seconds, threads=threads, hidden_size=hidden, validate=False)
        # the same recipe on one intra-op thread: what the threading change alone is worth
        b1 = train_baseline(split, seconds, threads=1, hidden_size=hidden, validate=False)
        ours.append(o)
        base.append(
            {"trained_per_s": b.samples_per_s, "train_seconds": b.train_seconds, "steps": b.steps}
        )
        base1.append(
            {
                "trained_per_s": b1.samples_per_s,
                "train_seconds": b1.train_seconds,
                "steps": b1.steps,
            }
        )
        print(
            f"round {i + 1}/{rounds}: ours {o['trained_per_s']:,.0f} trained samples/s "
            f"({o['processed_per_s']:,.0f} incl. warm-up), baseline "
            f"{b.samples_per_s:,.0f} samples/s ({b1.samples_per_s:,.0f} on 1 thread)",
            flush=True,
        )
    o_med = statistics.median(r["trained_per_s"] for r in ours)
    b_med = statistics.median(r["trained_per_s"] for r in base)
    ratios = [o["trained_per_s"] / b["trained_per_s"] for o, b in zip(ours, base)]
    ratios1 = [o["trained_per_s"] / b["trained_per_s"] for o, b in zip(ours, base1)]
    return {
        "seconds": seconds,
        "rounds": rounds,
        "threads": threads,
        "hidden": hidden,
        "effect": effect,
        "ours": ours,
        "baseline": base,
        "baseline_1thread": base1,
        "ratio_1thread_median": statistics.median(ratios1),
        "ours_median_trained_per_s": o_med,
        "baseline_median_trained_per_s": b_med,
        "ratio_median": statistics.median(ratios),
        "ratios": ratios,
        "ours_config": neuralfx.config.to_dict(TrainConfig()),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=THREADS)
    args = p.parse_args(argv)
    machine = machine_note()
    res = measure(args.seconds, args.rounds, args.threads)
    res["machine"] = machine
    res["loadavg_end"] = machine_note()["loadavg_1m"]
    save_json("throughput", res)
    print(
        f"ours / baseline (median of per-round ratios): {res['ratio_median']:.2f}x "
        f"-> {OUT / 'throughput.json'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
