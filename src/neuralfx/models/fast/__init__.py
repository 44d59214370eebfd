"""Fused CPU recurrences for ``RecurrentModel``: numba kernels on nn.GRU/nn.LSTM's own weights.

PyTorch's CPU GRU runs op by op per time step (oneDNN fuses only the LSTM), 25x slower than
its LSTM. ``recurrent_forward`` runs the layer through numba kernels when it can (CPU,
float32, the plain batch-first layer the models build) and through the module itself
otherwise: on CUDA/MPS, when ``NEURALFX_KERNELS=torch`` or ``set_kernels("torch")`` asks
for it, or, after one logged line, when numba is missing or fails to compile.
"""

from __future__ import annotations

import logging
import os
import threading
from types import ModuleType

import torch
from torch import nn

from ...errors import ConfigError

ENV_VAR = "NEURALFX_KERNELS"
MODES = ("auto", "torch")
# Where the kernels beat PyTorch's CPU path (bench/kernels.py, bench/notes.md): the GRU always
# (20-100x), LSTM inference always (2.5-4x), LSTM training up to 32 units (1.3-3.6x); from 48
# units oneDNN's fused LSTM trains as fast or faster (0.9x), so it keeps those.
LSTM_TRAINING_MAX_HIDDEN = 32
# set on an nn.LSTM to keep its training steps on PyTorch's path (inference stays fused):
# the trainer does for data with an envelope memory (training/loop.py says why)
TRAIN_ON_TORCH = "neuralfx_train_on_torch"

log = logging.getLogger(__name__)
_lock = threading.Lock()
_override: str | None = None
_loaded: dict[str, ModuleType | None] = {}


def set_kernels(mode: str | None) -> str | None:
    """Force ``"torch"`` or ``"auto"`` for this process (``None``: back to the env var);
    returns the previous setting, so callers can restore it."""
    global _override
    if mode is not None:
        _check_mode(mode, "set_kernels")
    previous, _override = _override, mode
    return previous


def kernel_mode() -> str:
    if _override is not None:
        return _override
    return _check_mode(os.environ.get(ENV_VAR, "auto").strip().lower() or "auto", ENV_VAR)


def _check_mode(mode: str, where: str) -> str:
    if mode not in MODES:
        raise ConfigError(f"{where} is {mode!r}; use one of: {', '.join(MODES)}")
    return mode


def _compile(cell: str) -> ModuleType:
    """Import and run the cell's kernels once on a tiny batch, so that a missing numba or a
    failed compile shows here rather than in the middle of a training step."""
    from . import layers

    # not torch's RNG: a first forward must not shift a seeded run's random numbers
    with torch.inference_mode(False), torch.random.fork_rng(devices=[]):
        rnn = {"gru": nn.GRU, "lstm": nn.LSTM}[cell](1, 4, batch_first=True)
        x = torch.zeros(1, 2, 1, requires_grad=True)
        forward = layers.gru_forward if cell == "gru" else layers.lstm_forward
        with torch.enable_grad():
            out, _ = forward(rnn, x, None)
            out.sum().backward()
        with torch.no_grad():
            forward(rnn, x, None)
    return layers


def _kernels(cell: str) -> ModuleType | None:
    if cell not in _loaded:
        with _lock:
            if cell not in _loaded:
                try:
                    _loaded[cell] = _compile(cell)
                except Exception as exc:  # any failure means "use torch", never a crash
                    _loaded[cell] = None
                    log.warning(
                        "neuralfx: fast CPU %s kernels unavailable (%s: %s); using PyTorch's",
                        cell.upper(), type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "",
                    )  # fmt: skip
    return _loaded[cell]


def _supported(rnn: nn.Module, x: torch.Tensor) -> str | None:
    """The cell name if the kernels compute exactly what ``rnn(x)`` would, else None."""
    cell = {nn.GRU: "gru", nn.LSTM: "lstm"}.get(type(rnn))
    if cell is None:
        return None
    if x.device.type != "cpu" or x.dtype != torch.float32 or x.dim() != 3 or x.shape[1] == 0:
        return None
    if not rnn.batch_first or rnn.bidirectional or not rnn.bias:
        return None
    if (rnn.dropout and rnn.training) or getattr(rnn, "proj_size", 0):
        return None
    if any(p.device.type != "cpu" or p.dtype != torch.float32 for p in rnn.parameters()):
        return None
    on_torch = rnn.hidden_size > LSTM_TRAINING_MAX_HIDDEN or getattr(rnn, TRAIN_ON_TORCH, False)
    if cell == "lstm" and on_torch and _training(rnn, x):
        return None
    return cell


def _training(rnn: nn.Module, x: torch.Tensor) -> bool:
    """Whether this call records for back-propagation (the state's grad does not matter for
    the choice: the trainer detaches it)."""
    if not torch.is_grad_enabled():
        return False
    return x.requires_grad or any(p.requires_grad for p in rnn.parameters())


def _fast_layers(rnn: nn.Module, x: torch.Tensor) -> ModuleType | None:
    if kernel_mode() == "torch":
        return None
    cell = _supported(rnn, x)
    return None if cell is None else _kernels(cell)


def fast_path(rnn: nn.Module, x: torch.Tensor) -> bool:
    """Whether ``recurrent_forward(rnn, x, ...)`` runs on the numba kernels."""
    return _fast_layers(rnn, x) is not None


def prepare(cell: str) -> bool:
    """Compile (or load from numba's cache) the cell's kernels now, outside any timed loop:
    a fresh install's first compile takes seconds that a training budget must not pay for.
    True when the kernels will be used."""
    return kernel_mode() != "torch" and _kernels(cell) is not None


def recurrent_forward(rnn: nn.Module, x: torch.Tensor, state):
    """``rnn(x, state)``, on the fast kernels where ``fast_path`` says so."""
    layers = _fast_layers(rnn, x)
    if layers is None:
        return rnn(x, state)
    if type(rnn) is nn.GRU:
        return layers.gru_forward(rnn, x, state)
    return layers.lstm_forward(rnn, x, state)


__all__ = [
    "ENV_VAR",
    "TRAIN_ON_TORCH",
    "fast_path",
    "kernel_mode",
    "prepare",
    "recurrent_forward",
    "set_kernels",
]
