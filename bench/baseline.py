"""The lab's original recipe, written plainly, as the yardstick for every figure in the bench.

LSTM 32 + Linear; random 0.5 s fragments, batch 50; every fragment starts from a zero state and
is back-propagated whole (no state carried between fragments, no warm-up); Adam at 5e-3; plain
ESR loss (no pre-emphasis, no DC term). It keeps the weights of its best validation epoch,
and like ``neuralfx.train`` its budget counts training steps only, not validation.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from neuralfx.data import Split
from neuralfx.losses import esr
from neuralfx.render import render_array

FRAGMENT_S = 0.5
SAMPLE_RATE_HZ = 44100
BATCH = 50
LEARNING_RATE = 5e-3
HIDDEN = 32


class LabLSTM(nn.Module):
    """LSTM + Linear with the ``forward(x, state) -> (y, state)`` that ``render_array`` needs."""

    def __init__(self, hidden_size: int = HIDDEN):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden_size, batch_first=True)
        self.dense = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor, state=None):
        h, state = self.lstm(x, state)
        return self.dense(h), state


def esr_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.sum((target - pred) ** 2) / (torch.sum(target**2) + 1e-10)


def render_one_thread(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """Scoring is not part of the recipe: batch-1 rendering runs fastest on one thread, and
    the result does not depend on the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return render_array(model, x)
    finally:
        torch.set_num_threads(threads)


@dataclass
class BaselineResult:
    model: LabLSTM
    test_esr: float
    best_val_esr: float
    best_epoch: int
    epochs: int
    steps: int
    train_seconds: float
    samples_per_s: float  # fragment samples through forward + backward per training second


def train_baseline(
    split: Split,
    budget_s: float,
    threads: int = 2,
    seed: int = 0,
    hidden_size: int = HIDDEN,
    validate: bool = True,
) -> BaselineResult:
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = LabLSTM(hidden_size)
    opt = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    frag = int(FRAGMENT_S * SAMPLE_RATE_HZ)
    tx, ty = torch.from_numpy(split.train_x), torch.from_numpy(split.train_y)
    offsets = torch.arange(frag)
    per_epoch = max(BATCH, math.ceil(len(tx) / frag))
    best = (math.inf, None, -1)
    train_s, steps, samples, epoch = 0.0, 0, 0, 0
    while train_s < budget_s:
        model.train()
        starts = torch.from_numpy(rng.integers(0, len(tx) - frag + 1, size=per_epoch))
        t0 = time.perf_counter()
        for i in range(0, per_epoch, BATCH):
            idx = starts[i : i + BATCH, None] + offsets[None, :]
            x, y = tx[idx].unsqueeze(-1), ty[idx].unsqueeze(-1)
            pred, _ = model(x)
            loss = esr_loss(pred, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps, samples = steps + 1, samples + idx.numel()
            if train_s + time.perf_counter() - t0 >= budget_s:
                break
        train_s += time.perf_counter() - t0
        epoch += 1
        if validate:
            val = esr(split.val_y, render_one_thread(model, split.val_x))
            if val < best[0]:
                best = (val, {k: v.clone() for k, v in model.state_dict().items()}, epoch - 1)
    if best[1] is not None:
        model.load_state_dict(best[1])
    test = esr(split.test_y, render_one_thread(model, split.test_x)) if validate else math.nan
    return BaselineResult(
        model, test, best[0], best[2], epoch, steps, train_s, samples / max(train_s, 1e-9)
    )
