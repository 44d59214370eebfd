"""Fused CPU recurrences (neuralfx.models.fast) against PyTorch's own GRU/LSTM, and render speed
against the C++ RTNeural example, every ratio from one run.

* Training: forward and back-propagation of a whole registry model (``batch`` x ``samples``,
  mean-squared loss, ``torch.autograd.grad``), one thread, the two paths interleaved, best of
  ``--reps`` each (the least disturbed by the rest of the machine). Also the trainer's real
  chunking on one shard: ``batch_size / 2`` sequences, a warm-up without gradient, then
  ``chunks_per_segment`` chunks with the state carried and detached.
* Shards: the trainer's two batch shards in two threads against one after the other, ours.
* Render: ``render_array`` (what ``neuralfx render`` and validation stream) on 10 s, one
  thread, against ``cpp/build/neuralfx-process --bench`` (``make cpp``) on the same model.
* First call: a fresh process's first forward, numba's on-disk cache empty, then filled.

    python bench/kernels.py [--reps 3] [--sizes 8,16,32] [--samples 8192] [--no-jit]

"ours" is what the dispatcher picks: LSTM training above 32 units is PyTorch's path by design
(``neuralfx.models.fast.LSTM_TRAINING_MAX_HIDDEN``), so larger ``--sizes`` compare it with itself.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from common import OUT, ROOT, machine_note, save_json

from neuralfx.config import ModelConfig, TrainConfig
from neuralfx.export import save_model
from neuralfx.models import build_model, detach_state, fast
from neuralfx.render import render_array
from neuralfx.training.dynamics import PLAIN_CHUNKS
from neuralfx.training.result import model_metadata

CPP_BIN = ROOT / "cpp" / "build" / "neuralfx-process"
RENDER_SECONDS = 10.0  # what neuralfx-process --bench processes
RATE_HZ = 44100
PATHS = ("ours", "torch")


def _mode(path: str) -> str:
    return "auto" if path == "ours" else "torch"


def _best_rate(fn, samples: int, reps: int, path: str) -> float:
    """Samples per second of ``fn`` on ``path``, best of ``reps``."""
    previous = fast.set_kernels(_mode(path))
    try:
        fn()  # warm: the first call compiles or loads numba's cache
        best = float("inf")
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
    finally:
        fast.set_kernels(previous)
    return samples / best


def _model(cell: str, hidden: int):
    torch.manual_seed(0)
    return build_model(ModelConfig(cell, hidden))


def training(cell: str, hidden: int, batch: int, samples: int, reps: int) -> dict:
    model = _model(cell, hidden)
    params = list(model.parameters())
    x, y = torch.randn(batch, samples, 1) * 0.3, torch.randn(batch, samples, 1) * 0.3

    def step():
        pred, _ = model(x)
        torch.autograd.grad(((pred - y) ** 2).mean(), params)

    rates = {p: [] for p in PATHS}
    for _ in range(reps):  # interleaved, so a neighbour's burst lands on both
        for p in PATHS:
            rates[p].append(_best_rate(step, batch * samples, 1, p))
    return {p: max(r) for p, r in rates.items()}


def chunked(cell: str, hidden: int, reps: int) -> dict:
    """One shard of the trainer's step: warm-up, then chunks with the state detached."""
    cfg = TrainConfig(chunks_per_segment=PLAIN_CHUNKS)  # a segment of an effect without memory
    batch, w, ch = cfg.batch_size // 2, cfg.warmup_samples, cfg.chunk_samples
    seg = w + cfg.chunks_per_segment * ch
    model = _model(cell, hidden)
    params = list(model.parameters())
    x, y = torch.randn(batch, seg, 1) * 0.3, torch.randn(batch, seg, 1) * 0.3

    def segment():
        with torch.no_grad():
            _, state = model(x[:, :w])
        for c in range(cfg.chunks_per_segment):
            sl = slice(w + c * ch, w + (c + 1) * ch)
            pred, state = model(x[:, sl], state)
            torch.autograd.grad(((pred - y[:, sl]) ** 2).mean(), params)
            state = detach_state(state)

    rates = {p: [] for p in PATHS}
    for _ in range(reps):
        for p in PATHS:
            rates[p].append(_best_rate(segment, batch * seg, 1, p))
    return {p: max(r) for p, r in rates.items()} | {"batch": batch, "segment": seg}


def shards(hidden: int, reps: int) -> dict:
    """Two shards of 4 sequences, GRU, ours: two threads against one after the other."""
    model = _model("gru", hidden)
    params = list(model.parameters())
    xs = [torch.randn(4, 8192, 1) * 0.3 for _ in range(2)]

    def shard(x):
        pred, _ = model(x)
        return torch.autograd.grad((pred**2).mean(), params)

    pool = ThreadPoolExecutor(2)
    try:
        one = _best_rate(lambda: [shard(x) for x in xs], 8 * 8192, reps, "ours")
        two = _best_rate(lambda: list(pool.map(shard, xs)), 8 * 8192, reps, "ours")
        # CPU time over wall time of one threaded run: near 2 when a second core was free
        wall, cpu = time.perf_counter(), time.process_time()
        list(pool.map(shard, xs))
        cores = (time.process_time() - cpu) / (time.perf_counter() - wall)
    finally:
        pool.shutdown()
    return {"one_thread": one, "two_threads": two, "cores_used": cores}


def _signal(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, len(t))
    return (0.5 * np.sin(2 * np.pi * 220 * t) + 0.05 * noise).astype(np.float32)


def cpp_x_realtime(model_path: Path) -> dict:
    if not CPP_BIN.is_file():
        return {"skipped": f"no {CPP_BIN.relative_to(ROOT)}: run make cpp"}
    out = subprocess.run([str(CPP_BIN), "--bench", str(model_path)], capture_output=True, text=True)
    wall = re.search(r"real-time factor ([0-9.eE+-]+) \(", out.stdout)
    cpu = re.search(r"real-time factor by cpu time ([0-9.eE+-]+)", out.stdout)
    if out.returncode or not (wall and cpu):
        return {"error": (out.stderr or out.stdout).strip()[:200]}
    return {"x_realtime": 1 / float(wall.group(1)), "x_realtime_cpu": 1 / float(cpu.group(1))}


def render(cell: str, hidden: int, reps: int) -> dict:
    model = _model(cell, hidden)
    folder = OUT / "kernels"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{cell}-{hidden}.json"
    cfg = TrainConfig(model=ModelConfig(name=cell, hidden_size=hidden))
    save_model(model, path, model_metadata(cfg, "random", "bench", 44100))
    x = _signal(RENDER_SECONDS)
    # PyTorch's GRU renders near real time: 2 s tell its speed without a 10 s wait per rep
    short = x[: 2 * RATE_HZ]
    res = {}
    for p in PATHS:
        sig = x if p == "ours" or cell == "lstm" else short
        res[p] = _best_rate(lambda sig=sig: render_array(model, sig), len(sig), reps, p) / RATE_HZ
    res["cpp"] = cpp_x_realtime(path)
    return res


_FIRST_CALL = """
import time, torch
from neuralfx.config import ModelConfig
from neuralfx.models import build_model
model, x = build_model(ModelConfig({cell!r}, 16)), torch.zeros(1, 64, 1)
t0 = time.perf_counter()
model(x)
print(time.perf_counter() - t0)
"""


def first_call(cell: str) -> dict:
    """Seconds of a fresh process's first forward (it compiles forward and backward)."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        res = {}
        for label in ("cold", "cached"):
            out = subprocess.run(
                [sys.executable, "-c", _FIRST_CALL.format(cell=cell)],
                capture_output=True,
                text=True,
                env=env,
            )
            res[label] = float(out.stdout.strip()) if out.returncode == 0 else out.stderr[-200:]
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--sizes", default="8,16,32")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--samples", type=int, default=8192)
    p.add_argument("--no-jit", action="store_true", help="skip the first-call latency")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    res: dict = {"machine": machine_note(), "training": {}, "chunked": {}, "render": {}}
    sizes = [int(s) for s in args.sizes.split(",")]
    for cell in ("gru", "lstm"):
        for h in sizes:
            r = training(cell, h, args.batch, args.samples, args.reps)
            res["training"][f"{cell}-{h}"] = r
            print(
                f"train {cell}-{h} ({args.batch} x {args.samples}): ours {r['ours']:,.0f} "
                f"samples/s, torch {r['torch']:,.0f}: {r['ours'] / r['torch']:.2f}x",
                flush=True,
            )
    if "gru-16" in res["training"]:
        ratio = res["training"]["gru-16"]["ours"] / res["training"]["lstm-16"]["torch"]
        res["gru16_ours_over_lstm16_torch"] = ratio
        print(f"GRU-16 ours / LSTM-16 torch: {ratio:.2f}x", flush=True)
    for cell, h in [(c, h) for c in ("gru", "lstm") for h in (16, 32)]:
        r = chunked(cell, h, args.reps)
        res["chunked"][f"{cell}-{h}"] = r
        print(
            f"trainer chunks {cell}-{h} ({r['batch']} x {r['segment']}): ours {r['ours']:,.0f} "
            f"samples/s, torch {r['torch']:,.0f}: {r['ours'] / r['torch']:.2f}x",
            flush=True,
        )
    r = res["shards"] = shards(16, args.reps)
    print(
        f"2 GRU-16 shards: 2 threads {r['two_threads']:,.0f} samples/s, 1 thread "
        f"{r['one_thread']:,.0f}: {r['two_threads'] / r['one_thread']:.2f}x "
        f"({r['cores_used']:.2f} cores busy while threaded)",
        flush=True,
    )
    for cell in ("lstm", "gru"):
        r = res["render"][f"{cell}-16"] = render(cell, 16, args.reps)
        cpp = r["cpp"].get("x_realtime")
        print(
            f"render {cell}-16: ours {r['ours']:.1f}x real time, torch {r['torch']:.1f}x, "
            + (
                f"C++ {cpp:.1f}x (cpu time {r['cpp']['x_realtime_cpu']:.1f}x): ours / C++ "
                f"{r['ours'] / cpp:.2f}"
                if cpp
                else f"C++ {r['cpp']}"
            ),
            flush=True,
        )
    if not args.no_jit:
        res["first_call_s"] = {}
        for cell in ("gru", "lstm"):
            r = res["first_call_s"][cell] = first_call(cell)
            print(f"first {cell} forward in a new process: {r}", flush=True)
    res["loadavg_end"] = machine_note()["loadavg_1m"]
    print(f"-> {save_json('kernels', res)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
