"""Where training runs: the device, and how a batch is shared between CPU cores."""

from __future__ import annotations

import os
import time

import torch

from ..config import TrainConfig
from ..errors import ConfigError
from ..models.fast import prepare as prepare_kernels


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: no CUDA device here; use --device cpu or auto")
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ConfigError("--device mps: no Apple GPU here; use --device cpu or auto")
    if name not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device {name}: choose cpu, cuda, mps or auto")
    return torch.device(name)


def shard_count(cfg: TrainConfig, device: torch.device) -> int:
    """How many threads share a batch on the CPU, each running whole sequences on one core.

    One time step of a small recurrent model is too little work to split across threads: the
    per-step barrier costs more than the matrix product (2 intra-op threads trained 5-20x
    slower than 1 on a busy 2-core machine, see bench/RESULTS.md). Splitting the batch instead
    keeps every core busy with no barrier until the gradients are summed.
    """
    if device.type != "cpu":
        return 1
    wanted = cfg.threads or os.cpu_count() or 1
    return max(1, min(wanted, cfg.batch_size // 4))


def kernels_notice(cell: str) -> str | None:
    """Compile the fused CPU kernels for ``cell`` now; what to say when that took a while."""
    t0 = time.perf_counter()
    if prepare_kernels(cell) and time.perf_counter() - t0 > 2:
        return (
            f"compiled the CPU kernels in {time.perf_counter() - t0:.0f} s "
            "(once: they are cached; not counted in the training time)"
        )
    return None
