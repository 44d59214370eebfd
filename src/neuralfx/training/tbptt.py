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
from ..render import render_batch
from .dynamics import PLAIN_CHUNKS


def chunks_per_segment(cfg: TrainConfig) -> int:
    """``--chunks``; 0 (resolved once the data is measured, see ``dynamics``) counts as the
    shortest it resolves to, for the checks made before that."""
    return cfg.chunks_per_segment or PLAIN_CHUNKS


def segment_samples(cfg: TrainConfig) -> int:
    return cfg.warmup_samples + chunks_per_segment(cfg) * cfg.chunk_samples


def segment_batches(
    bounds: list[tuple[int, int]], cfg: TrainConfig, rng: np.random.Generator
) -> list[np.ndarray]:
    """Random segment starts covering about the whole training block once per epoch, in
    batches of ``batch_size``.

    With several ``bounds`` (knob settings), each segment stays inside one of them and every
    setting gets the same share of segments, in a random order, whatever its length.
    """
    seg = segment_samples(cfg)
    n = sum(hi - lo for lo, hi in bounds)
    count = math.ceil(n / (chunks_per_segment(cfg) * cfg.chunk_samples))
    # whole batches: a short last one split over the shards scored chunks of 3 segments, and
    # those silent together were most of the loss spikes on phrases with rests
    count = max(1, math.ceil(count / cfg.batch_size)) * cfg.batch_size
    if len(bounds) == 1:
        ((lo, hi),) = bounds
        starts = lo + rng.integers(0, hi - lo - seg + 1, size=count)
    else:
        lo, hi = np.array(bounds).T
        which = rng.permutation(np.arange(count) % len(bounds))
        starts = lo[which] + rng.integers(0, hi[which] - lo[which] - seg + 1)
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


def mean_grads(params, shards: list[list[torch.Tensor]]) -> None:
    """Each parameter's gradient: the shards' mean, summed in a fixed order so that a run is
    reproducible whatever the threads. Always a tensor of its own: the kernels' path hands
    the two LSTM biases one gradient, which the clip would scale twice."""
    if len(shards) == 1:
        seen: set[int] = set()
        for param, g in zip(params, shards[0]):
            param.grad = g.clone() if id(g) in seen else g
            seen.add(id(g))
        return
    for param, gs in zip(params, zip(*shards)):
        param.grad = torch.stack(gs).mean(0)


@torch.inference_mode()
def evaluate(model, x: np.ndarray, y: np.ndarray, loss_fn, device) -> tuple[float, float]:
    """Loss and ESR over a whole block, from a zero state, with the state carried through."""
    loss, block_esr, _ = evaluate_blocks(model, [(x, y)], loss_fn, device)
    return loss, block_esr


@torch.inference_mode()
def render_blocks(model, xs: list[np.ndarray], device) -> list[np.ndarray]:
    """Each block from a zero state; blocks of one length render side by side, as one batch.

    One thread: a render has too little to share between threads (see ``device.shard_count``).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    preds: list[np.ndarray] = [np.empty(0, np.float32)] * len(xs)
    try:
        by_length: dict[int, list[int]] = {}
        for i, x in enumerate(xs):
            by_length.setdefault(len(x), []).append(i)
        for idx in by_length.values():
            out = render_batch(model, np.stack([xs[i] for i in idx]), device=device)
            for i, row in zip(idx, out):
                preds[i] = row
    finally:
        torch.set_num_threads(threads)
    return preds


def score_blocks(
    preds: list[np.ndarray], ys: list[np.ndarray], loss_fn
) -> tuple[float, float, list[float]]:
    """Loss and ESR over the blocks joined, plus each block's ESR."""
    pred, y = np.concatenate(preds), np.concatenate(ys)
    loss = loss_fn(torch.from_numpy(pred).view(1, -1, 1), torch.from_numpy(y).view(1, -1, 1))
    return float(loss), esr(y, pred), [esr(t, p) for t, p in zip(ys, preds)]


def evaluate_blocks(
    model, blocks: list[tuple[np.ndarray, np.ndarray]], loss_fn, device
) -> tuple[float, float, list[float]]:
    """Loss and ESR over several blocks (knob settings), each from a zero state, plus each
    block's ESR."""
    preds = render_blocks(model, [x for x, _ in blocks], device)
    return score_blocks(preds, [y for _, y in blocks], loss_fn)


def validation_scores(model, split, loss_fn, device) -> tuple[float, float]:
    """Validation loss (inf when not finite) and ESR of the model as it stands: the one block,
    or every trained knob setting's block, each from a zero state."""
    if split.settings:
        blocks = [(s.val_x, s.val_y) for s in split.seen]
        loss, val_esr, _ = evaluate_blocks(model, blocks, loss_fn, device)
    else:
        loss, val_esr = evaluate(model, split.val_x, split.val_y, loss_fn, device)
    return (loss if math.isfinite(loss) else math.inf), val_esr
