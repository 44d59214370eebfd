"""The pieces of truncated back-propagation through time that the loop runs.

Random segments per epoch, one batch shard's loss and gradients (a warm-up without gradient,
then a chunk with the state carried in), and the evaluation of a whole block from a zero state.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..config import TrainConfig
from ..losses import esr
from ..models import detach_state
from ..render import render_array

VAL_PIECES = 16  # validation runs the block as this many pieces side by side


def segment_samples(cfg: TrainConfig, warmup_samples: int) -> int:
    return warmup_samples + cfg.chunks_per_segment * cfg.chunk_samples


def segment_batches(
    n: int, cfg: TrainConfig, rng: np.random.Generator, warmup_samples: int, sample_rate_hz: int
) -> list[np.ndarray]:
    """Random segment starts covering about ``epoch_audio_s`` of the training block (all of it
    when shorter) per epoch: a validation, and a chance of a record, every few seconds."""
    seg = segment_samples(cfg, warmup_samples)
    covered = min(n, cfg.epoch_audio_s * sample_rate_hz) if cfg.epoch_audio_s else n
    count = max(cfg.batch_size, math.ceil(covered / (cfg.chunks_per_segment * cfg.chunk_samples)))
    starts = rng.integers(0, n - seg + 1, size=count)
    return [starts[i : i + cfg.batch_size] for i in range(0, count, cfg.batch_size)]


def shard_grads(model, loss_fn, params, x, y, state, warmup: int):
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
def evaluate_pieces(
    model, x: np.ndarray, y: np.ndarray, loss_fn, device, context_samples: int
) -> tuple[float, float]:
    """Loss and ESR over a whole block cut into pieces run as one batch, each piece preceded
    by the ``context_samples`` before it (zeros for the first), which are not scored.

    Batch 1 over a block runs one time step at a time on one core; 16 pieces side by side
    cost about the same per step and finish 10x sooner. With a context as long as the
    effect's memory (the run's warm-up) each piece starts from a settled state, so this
    tracks the whole-block figure that ``evaluate`` gives the test block.
    """
    n, ctx = len(x), context_samples
    piece = -(-n // VAL_PIECES)
    padded = np.zeros(ctx + piece * VAL_PIECES, dtype=np.float32)
    padded[ctx : ctx + n] = x
    windows = np.stack([padded[i * piece : i * piece + ctx + piece] for i in range(VAL_PIECES)])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out, _ = model(torch.from_numpy(windows).unsqueeze(-1).to(device), None)
    finally:
        torch.set_num_threads(threads)
    pred = out[:, ctx:, 0].reshape(-1)[:n].float().cpu().numpy()
    loss = loss_fn(torch.from_numpy(pred).view(1, -1, 1), torch.from_numpy(y).view(1, -1, 1))
    return float(loss), esr(y, pred)


@torch.inference_mode()
def evaluate(model, x: np.ndarray, y: np.ndarray, loss_fn, device) -> tuple[float, float]:
    """Loss and ESR over a whole block, from a zero state, with the state carried through.

    Batch 1 has nothing to share between threads, so it runs on one (see ``device.shard_count``).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pred = render_array(model, x, device=device)
    finally:
        torch.set_num_threads(threads)
    loss = loss_fn(torch.from_numpy(pred).view(1, -1, 1), torch.from_numpy(y).view(1, -1, 1))
    return float(loss), esr(y, pred)
