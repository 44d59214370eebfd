"""What every bench script shares: paths, the built-in datasets, scoring, the machine note.

Benchmarks are not tests: they print ratios against a baseline measured in the same run, because
the machine is shared and absolute timings drift by tens of percent from one hour to the next.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neuralfx.data import Split, load_dataset
from neuralfx.losses import esr
from neuralfx.render import render_array

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / "out"
DATA = OUT / "data"
EFFECTS = ("lowpass", "resonant", "softclip", "fuzz", "compressor")
DEFAULT_BUDGET_S = float(os.environ.get("BENCH_BUDGET", "180"))
THREADS = 2


def budget_from_env(default: float = 180.0) -> float:
    return float(os.environ.get("BENCH_BUDGET", default))


def ensure_dataset(effect: str, fresh: bool = False) -> Path:
    """``bench/out/data/<effect>``: the built-in clean signal through one catalogue effect."""
    from neuralfx.data.builtin import init_dataset

    root = DATA / effect
    if fresh:
        # init_dataset keeps an existing clean input; fresh means today's signals.py too
        shutil.rmtree(root, ignore_errors=True)
    if not (root / "output" / f"{effect}.wav").is_file():
        init_dataset(root, effect, name=effect, seed=0, force=True)
    return root


def split_of(data_dir: Path) -> Split:
    return load_dataset(data_dir).split


def test_esr(model: torch.nn.Module, split: Split) -> float:
    """Our metric for every trainer: ESR over the whole test block, from a zero state, state
    carried through (``render_array`` streams it in blocks exactly as a plugin would), on one
    thread, which is fastest for batch 1 and gives the same numbers."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return esr(split.test_y, render_array(model, split.test_x))
    finally:
        torch.set_num_threads(threads)


def machine_note() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def save_json(name: str, payload: dict[str, Any]) -> Path:
    return save_json_at(OUT / f"{name}.json", payload)


def save_json_at(path: Path, payload: dict[str, Any]) -> Path:
    """``payload`` as JSON at ``path``, written to a temp file beside it, then renamed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    return path


def load_json(name: str) -> dict[str, Any] | None:
    path = OUT / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "—"
    return f"{x:.{digits}g}"
