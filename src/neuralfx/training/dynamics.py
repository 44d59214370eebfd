"""What training does for an effect whose gain follows the input level's history.

A compressor, gate or sagging amp remembers the level over tens to hundreds of milliseconds;
a filter or clipper does not. ``dsp.memory`` measures that memory from the pair, once, before
the run is created, and two things follow from it:

* **Longer segments** (``--chunks`` 0, the default, resolves to ``DYNAMICS_CHUNKS``): the
  state then runs 0.75 s from a zero start instead of 0.2 s, closer to the seconds a
  validation block and a plugin run it for. On sox's compander (memory 0.1 s), 180 s: held-out
  ESR 0.0075 / 0.0092 / 0.0091 over three seeds with 64 chunks, against 0.012-0.0126 with 16
  (bench/notes.md).
* **The plain ESR as the loss** (an unset ``--pre-emphasis`` resolves to 0, not 0.85): a
  compressor's error is its gain, spread over the whole spectrum, and the pre-emphasis weighs
  the highs 45x over the lows where a guitar's energy is. On sox's compander, 180 s: held-out
  ESR 0.0094 / 0.0100 / 0.0097 over three seeds against 0.0156 / 0.0163 / 0.044 (bench/notes.md).
* **An LSTM's time constants spread up to the memory** (``init_for_dynamics``): forget-gate
  biases log-uniform from 2 samples to the measured memory, where PyTorch's start holds a
  state for 2 samples. On sox's compander, 180 s: held-out ESR 0.0085 / 0.0091 / 0.0087 over
  three seeds against 0.0089 / 0.0102 / 0.0100, and 2.4-9x lower after the first epoch.
* **Advice to try a GRU**: its update gate is a leaky integrator, what an envelope follower is;
  on sox's compander at 180 s three GRU seeds scored 0.0042-0.0083 against the LSTM's 0.016.
* **PyTorch's path for an LSTM's training** (``models.fast.TRAIN_ON_TORCH``); inference stays
  fused. A precaution whose cause is in doubt: on the compander, kernel-path runs got stuck in
  8 of 10 runs and PyTorch's path in none of 10, but the stuck runs also had fused Adam and
  two biases sharing one gradient tensor, both since reverted, and the three kernel-path runs
  without them were fine. Torch's fused CPU Adam has since been shown not to follow its own
  loop (training/optimizer.py), the likely cause. PyTorch's path trains as fast at these
  chunk lengths, the fused gradients (training/fused.py) included, so the precaution is free.
"""

from __future__ import annotations

import dataclasses

import torch

from ..config import TrainConfig
from ..dsp.memory import envelope_memory_s
from ..models.fast import TRAIN_ON_TORCH
from ..models.recurrent import init_memory

DYNAMICS_MEMORY_S = 0.02  # an envelope memory this long or longer counts as dynamics
PLAIN_CHUNKS = 16  # chunks per segment without dynamics: 1,024 + 16 x 512 samples, 0.2 s
DYNAMICS_CHUNKS = 64  # with dynamics: 0.75 s
PLAIN_PRE_EMPHASIS = 0.85  # Wright et al.'s first-order high-pass on the loss
DYNAMICS_PRE_EMPHASIS = 0.0  # with dynamics (see the module's docstring)
# measured, not made the default: .nam files hold an LSTM, and a choice of architecture made
# behind the user's back would change what the plugins can load
GRU_ADVICE = (
    "a GRU (--model gru) scored 2-4x lower ESR than the LSTM on sox's compander "
    "(bench/notes.md); NAM files need the LSTM"
)


def memory_of(split, sample_rate_hz: int) -> float:
    """The training block's envelope memory in seconds (the audio channel of knob data)."""
    x = split.train_x if split.train_x.ndim == 1 else split.train_x[:, 0]
    return envelope_memory_s(x, split.train_y, sample_rate_hz)


def resolve(cfg: TrainConfig, memory_s: float, shortest_block: int) -> TrainConfig:
    """The settings left to the data (``--chunks 0``, ``--pre-emphasis`` unset) made numbers."""
    return resolve_pre_emphasis(resolve_chunks(cfg, memory_s, shortest_block), memory_s)


def resolve_pre_emphasis(cfg: TrainConfig, memory_s: float) -> TrainConfig:
    """An unset ``--pre-emphasis``: 0.85, or 0 (the plain ESR that scores the model) with
    dynamics. A number given is kept."""
    if cfg.loss.pre_emphasis is not None:
        return cfg
    pre = DYNAMICS_PRE_EMPHASIS if memory_s >= DYNAMICS_MEMORY_S else PLAIN_PRE_EMPHASIS
    return dataclasses.replace(cfg, loss=dataclasses.replace(cfg.loss, pre_emphasis=pre))


def resolve_chunks(cfg: TrainConfig, memory_s: float, shortest_block: int) -> TrainConfig:
    """``--chunks 0`` (the default) made a number: longer segments for dynamics when every
    training block holds one. A number given is kept."""
    if cfg.chunks_per_segment:
        return cfg
    chunks = PLAIN_CHUNKS
    if memory_s >= DYNAMICS_MEMORY_S:
        room = (shortest_block - cfg.warmup_samples) // max(cfg.chunk_samples, 1)
        chunks = max(PLAIN_CHUNKS, min(DYNAMICS_CHUNKS, room))
    return dataclasses.replace(cfg, chunks_per_segment=chunks)


def dynamics_notice(
    model: torch.nn.Module, memory_s: float, segment_s: float, device: torch.device
) -> str | None:
    """Mark the model for dynamics, if the data has them, and say what that changed."""
    if memory_s < DYNAMICS_MEMORY_S:
        return None
    on_torch = mark_for_torch(model, memory_s, device)
    gru = "" if model.cell == "gru" else f"; {GRU_ADVICE}"
    return (
        f"the output follows the input level over ~{memory_s * 1000:.0f} ms: segments of "
        f"{segment_s:.2f} s" + (", the LSTM trained on PyTorch's path" if on_torch else "") + gru
    )


def init_for_dynamics(model: torch.nn.Module, memory_s: float, sample_rate_hz: int) -> bool:
    """An LSTM for dynamics starts with time constants spread up to the measured memory
    (``models.recurrent.init_memory``); True when it did. Measured on the LSTM only: a GRU's
    first epochs did not gain from it on sox's compander (one seed), nor did the highpass,
    the overdrive, the amp and the fuzz at 20 s (bench/notes.md)."""
    if memory_s < DYNAMICS_MEMORY_S or not isinstance(model.rnn, torch.nn.LSTM):
        return False
    init_memory(model.rnn, memory_s * sample_rate_hz)
    return True


def mark_for_torch(model: torch.nn.Module, memory_s: float, device: torch.device) -> bool:
    """Train an LSTM with dynamics on PyTorch's path; True when it was marked."""
    rnn = model.rnn
    if memory_s < DYNAMICS_MEMORY_S or not isinstance(rnn, torch.nn.LSTM) or device.type != "cpu":
        return False
    setattr(rnn, TRAIN_ON_TORCH, True)
    return True
