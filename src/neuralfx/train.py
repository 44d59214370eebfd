"""The one training loop: TBPTT on random segments, validation, records, renders, resume.

The CLI, sweeps, benchmarks and tests all call :func:`train`.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__, data, runs
from .audio import SAMPLE_RATE_HZ, read_wav, write_wav
from .config import TrainConfig
from .datacheck import check_dataset
from .errors import ConfigError
from .export import save_model
from .losses import EffectLoss, esr
from .models import build_model, count_parameters, detach_state
from .progress import Reporter
from .render import render_array

MAX_GRAD_NORM = 1.0


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    model_path: Path
    test_esr: float
    best_val_esr: float
    best_epoch: int
    epochs: int
    train_seconds: float
    parameters: int
    samples_per_s: float
    stopped_by: str


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


def model_metadata(cfg: TrainConfig, effect: str, run_name: str, **extra: Any) -> dict[str, Any]:
    m = cfg.model
    return {
        "model": m.name,
        "hidden_size": m.hidden_size,
        "num_layers": m.num_layers,
        "skip": m.skip,
        "conv_channels": m.conv_channels,
        "conv_kernel": m.conv_kernel,
        "sample_rate_hz": SAMPLE_RATE_HZ,
        "neuralfx_version": __version__,
        "effect": effect,
        "run": run_name,
        **extra,
    }


def _segment_batches(n: int, cfg: TrainConfig, rng: np.random.Generator) -> list[np.ndarray]:
    """Random segment starts covering about the whole training block once per epoch."""
    seg = cfg.warmup_samples + cfg.chunks_per_segment * cfg.chunk_samples
    count = max(cfg.batch_size, math.ceil(n / (cfg.chunks_per_segment * cfg.chunk_samples)))
    starts = rng.integers(0, n - seg + 1, size=count)
    return [starts[i : i + cfg.batch_size] for i in range(0, count, cfg.batch_size)]


def _shard_count(cfg: TrainConfig, device: torch.device) -> int:
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


def _shard_grads(model, loss_fn, params, x, y, state, warmup: int):
    """Loss, gradients and detached end state of one batch shard; runs in a worker thread
    (grad mode is per thread, hence the explicit ``no_grad`` for the warm-up)."""
    if warmup:
        with torch.no_grad():
            _, state = model(x[:, :warmup], state)
        x, y = x[:, warmup:], y[:, warmup:]
    pred, state = model(x, state)
    loss = loss_fn(pred, y)
    grads = torch.autograd.grad(loss, params) if torch.isfinite(loss) else None
    return loss.detach(), grads, detach_state(state)


@torch.inference_mode()
def _evaluate(model, x: np.ndarray, y: np.ndarray, loss_fn, device) -> tuple[float, float]:
    """Loss and ESR over a whole block, from a zero state, with the state carried through.

    Batch 1 has nothing to share between threads, so it runs on one (see ``_shard_count``).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pred = render_array(model, x, device=device)
    finally:
        torch.set_num_threads(threads)
    loss = loss_fn(torch.from_numpy(pred).view(1, -1, 1), torch.from_numpy(y).view(1, -1, 1))
    return float(loss), esr(y, pred)


def train(
    cfg: TrainConfig, resume: bool = False, on_epoch: Callable[[dict[str, Any]], None] | None = None
) -> TrainResult:
    """Train ``cfg`` into ``DATA/runs/<run_name>``; with ``resume``, continue that run."""
    device = pick_device(cfg.device)
    threads_before = torch.get_num_threads()
    shards = _shard_count(cfg, device)
    if device.type == "cpu":
        torch.set_num_threads(1)  # the cores go to batch shards instead (see _shard_count)
    elif cfg.threads:
        torch.set_num_threads(cfg.threads)
    pool = ThreadPoolExecutor(shards) if shards > 1 else None
    try:
        return _train(cfg, resume, on_epoch, device, shards, pool)
    finally:
        if pool:
            pool.shutdown()
        torch.set_num_threads(threads_before)


def _train(
    cfg: TrainConfig,
    resume: bool,
    on_epoch,
    device: torch.device,
    shards: int,
    pool: ThreadPoolExecutor | None,
) -> TrainResult:
    report = Reporter(cfg.quiet)
    seg_len = cfg.warmup_samples + cfg.chunks_per_segment * cfg.chunk_samples
    checked = check_dataset(
        cfg.data_dir, cfg.output_name, cfg.resample, cfg.align, cfg.latency_samples
    )
    split = data.split_pairs(
        checked.arrays,
        cfg.split,
        checked.name,
        min_train_samples=seg_len,
        min_eval_samples=cfg.warmup_samples,
    )
    for warning in checked.all_warnings:  # after the split, so an error stays one line
        report.message(f"warning: {warning}")
    if not cfg.run_name:
        cfg = cfg.with_overrides(run_name=runs.new_run_name(cfg))
    paths = runs.run_paths(cfg.data_dir, cfg.run_name, cfg.runs_dir)
    data_dir = Path(cfg.data_dir)
    out_dir = Path(cfg.renders_dir or cfg.data_dir)

    torch.manual_seed(cfg.seed)
    random.seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    model = build_model(
        cfg.model.name,
        cfg.model.hidden_size,
        cfg.model.num_layers,
        cfg.model.skip,
        cfg.model.conv_channels,
        cfg.model.conv_kernel,
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
        opt, factor=cfg.lr_factor, patience=cfg.lr_patience
    )
    loss_fn = EffectLoss(cfg.loss.esr_weight, cfg.loss.dc_weight, cfg.loss.pre_emphasis)
    st: dict[str, Any] = {
        "epoch": 0,
        "best_val": float("inf"),
        "best_val_esr": float("inf"),
        "best_epoch": -1,
        "since_best": 0,
        "train_seconds": 0.0,
        "rows": [],
        "best_state": None,
    }
    if resume:
        ck = runs.load_checkpoint(paths)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        rng.bit_generator.state = ck["numpy_rng"]
        torch.set_rng_state(ck["torch_rng"])
        random.setstate(ck["python_rng"])
        st = ck["progress"]
        report.message(
            f"resuming {paths.root} at epoch {st['epoch']} "
            f"(best val loss {st['best_val']:.5f} at epoch {st['best_epoch']})"
        )
    else:
        paths.root.mkdir(parents=True, exist_ok=True)
    runs.save_config(paths, cfg)

    guitar_path = runs.find_guitar(data_dir) if cfg.render_every > 0 else None
    guitar = read_wav(guitar_path) if guitar_path else None
    if cfg.render_every > 0 and guitar is None:
        report.message(f"no guitar.wav in {data_dir} or its parent: demo renders are skipped")

    train_x = torch.from_numpy(split.train_x).to(device)
    train_y = torch.from_numpy(split.train_y).to(device)
    offsets = torch.arange(seg_len, device=device)
    w, ch = cfg.warmup_samples, cfg.chunk_samples
    params = [p for p in model.parameters() if p.requires_grad]
    stopped_by = "max_epochs"
    try:
        while st["epoch"] < cfg.max_epochs:
            epoch = st["epoch"]
            if cfg.budget_s and st["train_seconds"] >= cfg.budget_s:
                stopped_by = "budget"
                break
            batches = _segment_batches(len(split.train_x), cfg, rng)
            left = cfg.budget_s - st["train_seconds"] if cfg.budget_s else None
            report.start_epoch(epoch, len(batches), st["best_val"], left)
            model.train()
            t0, seen, loss_sum, loss_n = time.perf_counter(), 0, 0.0, 0
            for starts in batches:
                idx = torch.from_numpy(starts).to(device)[:, None] + offsets[None, :]
                x, y = train_x[idx].unsqueeze(-1), train_y[idx].unsqueeze(-1)
                xs, ys = x.chunk(shards), y.chunk(shards)
                states = [None] * len(xs)
                for c in range(cfg.chunks_per_segment):
                    # the first chunk is preceded by the warm-up, which gets no gradient
                    sl = slice(0 if c == 0 else w + c * ch, w + (c + 1) * ch)
                    jobs = [
                        (model, loss_fn, params, xi[:, sl], yi[:, sl], si, w if c == 0 else 0)
                        for xi, yi, si in zip(xs, ys, states)
                    ]
                    out = (
                        list(pool.map(_shard_grads, *zip(*jobs)))
                        if pool
                        else [_shard_grads(*jobs[0])]
                    )
                    states = [o[2] for o in out]
                    if all(o[1] is not None for o in out):
                        # summed in a fixed order, so a run is reproducible whatever the threads
                        for p, gs in zip(params, zip(*(o[1] for o in out))):
                            p.grad = torch.stack(gs).mean(0)
                        torch.nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
                        opt.step()
                        loss = float(torch.stack([o[0] for o in out]).mean())
                        loss_sum, loss_n = loss_sum + loss, loss_n + 1
                seen += x.shape[0] * seg_len
                elapsed = time.perf_counter() - t0
                report.batch(loss_sum / max(loss_n, 1), seen / max(elapsed, 1e-9))
                if cfg.budget_s and st["train_seconds"] + elapsed >= cfg.budget_s:
                    break  # validate what we have rather than lose the partial epoch
            epoch_s = time.perf_counter() - t0
            st["train_seconds"] += epoch_s
            val_loss, val_esr = _evaluate(model, split.val_x, split.val_y, loss_fn, device)
            if not math.isfinite(val_loss):
                val_loss = float("inf")
            sched.step(val_loss)
            row = {
                "epoch": epoch,
                "train_loss": loss_sum / max(loss_n, 1),
                "val_loss": val_loss,
                "val_esr": val_esr,
                "lr": opt.param_groups[0]["lr"],
                "seconds": round(st["train_seconds"], 3),
                "samples_per_s": seen / epoch_s,
            }
            record = val_loss < st["best_val"]
            if record:
                st.update(
                    best_val=val_loss,
                    best_val_esr=val_esr,
                    best_epoch=epoch,
                    since_best=0,
                    best_state={k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                )
                meta = model_metadata(
                    cfg, split.name, cfg.run_name, epoch=epoch, val_esr=val_esr, test_esr=None
                )
                save_model(model, paths.model, meta)
                save_model(model, out_dir / "model.json", meta)
            else:
                st["since_best"] += 1
            if guitar is not None and epoch % cfg.render_every == 0:
                write_wav(
                    out_dir / f"{split.name}{epoch}.wav", render_array(model, guitar, device=device)
                )
            st["rows"].append(row)
            st["epoch"] = epoch + 1
            runs.save_metrics(paths, st["rows"])
            runs.save_checkpoint(
                paths,
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "numpy_rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    "python_rng": random.getstate(),
                    "progress": st,
                    "config": asdict(cfg),
                },
            )
            left = (
                cfg.budget_s - st["train_seconds"]
                if cfg.budget_s
                else (cfg.max_epochs - st["epoch"]) * st["train_seconds"] / max(st["epoch"], 1)
            )
            report.end_epoch(row, record, left)
            if on_epoch:
                on_epoch(row)
            if st["since_best"] >= cfg.early_stop_patience:
                stopped_by = "early_stop"
                break
        else:
            stopped_by = "max_epochs"
    finally:
        report.close()
    return _finish(cfg, model, st, split, paths, out_dir, device, stopped_by, report, guitar)


def _finish(
    cfg, model, st, split, paths, out_dir, device, stopped_by, report, guitar
) -> TrainResult:
    """Reload the best model, score it on the test block, and stamp the score into model.json."""
    if st["best_state"] is None:
        raise ConfigError(f"{paths.root}: no epoch completed; raise --budget or --max-epochs")
    model.load_state_dict(st["best_state"])
    loss_fn = EffectLoss(cfg.loss.esr_weight, cfg.loss.dc_weight, cfg.loss.pre_emphasis)
    _, test_esr = _evaluate(model, split.test_x, split.test_y, loss_fn, device)
    meta = model_metadata(
        cfg,
        split.name,
        cfg.run_name,
        epoch=st["best_epoch"],
        val_esr=st["best_val_esr"],
        test_esr=test_esr,
    )
    model_path = save_model(model, paths.model, meta)
    save_model(model, out_dir / "model.json", meta)
    rows = st["rows"]
    speed = float(np.mean([r["samples_per_s"] for r in rows])) if rows else 0.0
    result = TrainResult(
        paths.root,
        model_path,
        test_esr,
        st["best_val_esr"],
        st["best_epoch"],
        st["epoch"],
        st["train_seconds"],
        count_parameters(model),
        speed,
        stopped_by,
    )
    runs.save_result(
        paths, {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}
    )
    renders = ""
    if guitar is not None:
        # the lab's per-epoch renders show progress; this one is what the saved model sounds like
        best = write_wav(
            out_dir / f"{split.name}_best.wav", render_array(model, guitar, device=device)
        )
        renders = f"\nrenders: {out_dir}/{split.name}<epoch>.wav, best model: {best}"
    report.message(
        f"test ESR {test_esr:.5f} (best epoch {st['best_epoch']}, {st['epoch']} epochs, "
        f"{st['train_seconds']:.0f} s, stopped by {stopped_by})\n"
        f"model: {out_dir / 'model.json'}  run: {paths.root}{renders}"
    )
    return result
