"""Inference speed: how many times faster than real time each registry model runs, one core.

Python: ``neuralfx.render_file`` (what ``neuralfx render`` runs) on a 10 s wav, 1 thread, best
of ``--reps``. C++: ``neuralfx-process --bench MODEL.json`` (RTNeural, its own best of three on
one thread), built into bench/out/cpp-build when missing. Wall time includes waiting for a
core on a busy machine, so CPU time is reported beside it. The weights are random (seeded):
speed does not depend on them.

    python bench/inference.py [--sizes 8,16,32] [--reps 2] [--no-build]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import torch
from common import OUT, ROOT, machine_note, save_json

from neuralfx.audio import SAMPLE_RATE_HZ, write_wav
from neuralfx.config import ModelConfig, TrainConfig
from neuralfx.export import save_model
from neuralfx.models import REGISTRY, build_model
from neuralfx.render import render_file
from neuralfx.training.result import model_metadata

CPP_BUILD = OUT / "cpp-build"
CPP_BIN = CPP_BUILD / "neuralfx-process"
RTNEURAL = Path("/work/shared/third_party/RTNeural")
SECONDS = 10.0


def build_cpp() -> str:
    """Build neuralfx-process; return '' or why there is no C++ column."""
    if CPP_BIN.is_file():
        return ""
    if not (ROOT / "cpp" / "CMakeLists.txt").is_file():
        return "cpp/CMakeLists.txt is missing"
    log = OUT / "cpp-build.log"
    with open(log, "w") as f:
        cfg = ["cmake", "-S", str(ROOT / "cpp"), "-B", str(CPP_BUILD)]
        if RTNEURAL.is_dir():
            cfg.append(f"-DRTNEURAL_DIR={RTNEURAL}")
        for cmd in (cfg, ["cmake", "--build", str(CPP_BUILD), "--target", "neuralfx-process"]):
            if subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode != 0:
                return f"the build failed; see {log}"
    return "" if CPP_BIN.is_file() else f"no {CPP_BIN} after the build; see {log}"


def make_models(sizes: list[int]) -> list[tuple[str, int, Path]]:
    folder = OUT / "inference"
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for name in REGISTRY:
        for h in sizes:
            torch.manual_seed(0)
            model = build_model(ModelConfig(name, h))
            cfg = TrainConfig(model=ModelConfig(name=name, hidden_size=h))
            path = folder / f"{name}-{h}.json"
            save_model(model, path, model_metadata(cfg, "random", "bench", 44100))
            made.append((name, h, path))
    return made


def python_speed(model_path: Path, wav: Path, reps: int) -> dict:
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(reps):
        w0, c0 = time.perf_counter(), time.process_time()
        render_file(model_path, wav, OUT / "inference" / "out.wav", threads=1)
        best_wall = min(best_wall, time.perf_counter() - w0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return {"x_realtime": SECONDS / best_wall, "x_realtime_cpu": SECONDS / best_cpu}


def cpp_speed(model_path: Path) -> dict:
    out = subprocess.run([str(CPP_BIN), "--bench", str(model_path)], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": out.stderr.strip()[:200]}
    wall = re.search(r"real-time factor ([0-9.eE+-]+) \(", out.stdout)
    cpu = re.search(r"real-time factor by cpu time ([0-9.eE+-]+)", out.stdout)
    res = {}
    if wall:
        res["x_realtime"] = 1.0 / float(wall.group(1))
    if cpu:
        res["x_realtime_cpu"] = 1.0 / max(float(cpu.group(1)), 1e-9)
    return res or {"error": f"unparsed output: {out.stdout[:200]}"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="8,16,32")
    p.add_argument("--reps", type=int, default=2)
    p.add_argument("--no-build", action="store_true")
    args = p.parse_args(argv)
    machine = machine_note()
    cpp_note = "--no-build" if args.no_build and not CPP_BIN.is_file() else build_cpp()
    rng = np.random.default_rng(0)
    t = np.arange(int(SECONDS * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    x = 0.5 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))
    wav = OUT / "inference" / "input.wav"
    wav.parent.mkdir(parents=True, exist_ok=True)
    write_wav(wav, x.astype(np.float32))
    rows = []
    for name, h, path in make_models([int(s) for s in args.sizes.split(",")]):
        row = {"model": name, "hidden": h, "python": python_speed(path, wav, args.reps)}
        row["cpp"] = {"skipped": cpp_note} if cpp_note else cpp_speed(path)
        rows.append(row)
        c = row["cpp"].get("x_realtime")
        print(
            f"{name}-{h}: python {row['python']['x_realtime']:.1f}x real time"
            + (f", C++ {c:.0f}x" if c else f", C++ skipped ({cpp_note})"),
            flush=True,
        )
    save_json(
        "inference",
        {
            "seconds": SECONDS,
            "rows": rows,
            "cpp_note": cpp_note,
            "machine": machine,
            "loadavg_end": machine_note()["loadavg_1m"],
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
