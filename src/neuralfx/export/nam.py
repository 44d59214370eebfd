"""Neural Amp Modeler ``.nam`` files, architecture "LSTM" (write and read).

Layout, as NeuralAmpModelerCore's ``lstm.cpp`` reads it and neural-amp-modeler's
``models/recurrent.py`` writes it: ``config`` {input_size, hidden_size, num_layers}; then one
flat ``weights`` list holding, per layer, the rows of [W_ih | W_hh] (4H x (in+H), gates i, f,
g, o as PyTorch), b_ih + b_hh, the initial hidden state and the initial cell state; after the
last layer the head's weight (H) and bias (1). NAM's trainer stores as initial state the state
reached after 48000 samples of silence from zero, whatever the rate; so do we. Plugin builds
before late 2024 accept only versions 0.5.x, hence ``0.5.4``.

``loudness`` is NAM's: 20 log10 of the output's RMS for a standard input, played from the
stored state. NAM's own input (``loudness_input.wav``: 1 s of pink noise at 48 kHz, RMS
-15.0 dBFS, peak -3 dBFS) ships with its trainer, not with us, so ours is 1 s of seeded pink
noise at the model's rate and the same RMS; ``--loudness-input WAV`` uses NAM's file itself.
``gain`` is NAM's compression measure from the loudness at input gains 0, 0.1, ..., 1.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..audio import read_wav
from ..errors import ExportError, ModelFileError, plural
from ..models import RecurrentModel
from ..models.sequential import Dense, Recurrent, SequentialModel
from .native import _out

NAM_VERSION = "0.5.4"
INITIAL_STATE_SILENCE_SAMPLES = 48_000
GEAR_TYPES = ("amp", "pedal", "pedal_amp", "amp_cab", "amp_pedal_cab", "preamp", "studio")
TONE_TYPES = ("clean", "overdrive", "crunch", "hi_gain", "fuzz")
LOUDNESS_RMS = 0.17848  # NAM's reference input: pink noise, RMS -15.0 dBFS (peak -2.9 dBFS)
MAX_HIDDEN = 1024
MAX_LAYERS = 8


def nam_refusal(model: RecurrentModel) -> str | None:
    """Why a NAM plugin cannot run this model, or None when it can."""
    if model.knobs:
        return (
            f"NAM plugins have no knob inputs; this model takes {plural(model.knobs, 'knob input')}: "
            "export it with --format native or aidax"
        )
    parts = []
    if model.cell != "lstm":
        parts.append(f"a {model.cell.upper()}")
    if len(model.convs):
        parts.append(f"{len(model.convs)} conv layers")
    if model.skip:
        parts.append("a skip connection")
    if not parts:
        return None
    return f"NAM plugins run LSTM models without skip or conv front end; this model has {' and '.join(parts)}"


def loudness_input(rate_hz: int) -> np.ndarray:
    """Our stand-in for NAM's loudness input: 1 s of seeded pink noise at RMS -15 dBFS."""
    n = int(rate_hz)
    spectrum = np.fft.rfft(np.random.default_rng(0).standard_normal(n))
    f = np.fft.rfftfreq(n)
    spectrum[1:] /= np.sqrt(f[1:])  # equal power per octave
    spectrum[0] = 0.0
    x = np.fft.irfft(spectrum, n)
    return (x * (LOUDNESS_RMS / np.sqrt(np.mean(x**2)))).astype(np.float32)


@torch.inference_mode()
def silence_state(model: RecurrentModel) -> tuple[torch.Tensor, torch.Tensor]:
    """(h, c), each (layers, 1, H): the state after NAM's stretch of silence from zero."""
    _, state = model.rnn(torch.zeros(1, INITIAL_STATE_SILENCE_SAMPLES, 1))
    return state


@torch.inference_mode()
def _rms(model: RecurrentModel, x: np.ndarray, state) -> float:
    y, _ = model(torch.from_numpy(x).view(1, -1, 1), (None, state))
    return float(torch.sqrt(torch.mean(y.double() ** 2)))


def loudness_and_gain(model: RecurrentModel, x: np.ndarray, state) -> tuple[float, float]:
    rms = _rms(model, x, state)
    y = np.array([_rms(model, np.float32(g) * x, state) for g in np.linspace(0.0, 1.0, 11)])
    max_gain = y[-1] * len(y)  # a "square" curve: full compression
    min_gain = 0.5 * max_gain  # a "triangle": none
    gain = float(np.clip((y.sum() - min_gain) / (max_gain - min_gain), 0.0, 1.0))
    return (20.0 * math.log10(rms) if rms > 0 else -120.0), gain


def to_nam_dict(
    model: RecurrentModel,
    metadata: dict[str, Any],
    info: dict[str, Any] | None = None,
    loudness_wav: str | Path | None = None,
) -> dict[str, Any]:
    """The model as a .nam; ``loudness_wav`` replaces our loudness input (e.g. NAM's own)."""
    why = nam_refusal(model)
    if why:
        raise ExportError(why)
    rate = metadata.get("sample_rate_hz")
    if not isinstance(rate, (int, float)) or rate <= 0:
        raise ExportError(
            f"the model's metadata has no sample_rate_hz ({rate!r}); export a run's model.json"
        )
    info = {k: v for k, v in (info or {}).items() if v is not None and v != ""}
    for key, allowed in (("gear_type", GEAR_TYPES), ("tone_type", TONE_TYPES)):
        if key in info and info[key] not in allowed:
            raise ExportError(
                f"{key} {info[key]!r} is not one NAM knows; choose one of {', '.join(allowed)}"
            )
    rnn, hidden = model.rnn, model.rnn.hidden_size
    h0, c0 = silence_state(model)
    parts = []
    for k in range(rnn.num_layers):
        w = torch.cat(
            [
                _out(getattr(rnn, f"weight_ih_l{k}"), f"lstm.weight_ih_l{k}"),
                _out(getattr(rnn, f"weight_hh_l{k}"), f"lstm.weight_hh_l{k}"),
            ],
            dim=1,
        )
        b = _out(getattr(rnn, f"bias_ih_l{k}"), "bias") + _out(
            getattr(rnn, f"bias_hh_l{k}"), "bias"
        )
        parts += [w.flatten(), b, h0[k, 0], c0[k, 0]]
    parts += [
        _out(model.dense.weight, "dense.weight").flatten(),
        _out(model.dense.bias, "dense.bias"),
    ]
    weights = torch.cat([p.detach().float() for p in parts])
    x = read_wav(loudness_wav, None) if loudness_wav else loudness_input(int(rate))
    loudness, gain = loudness_and_gain(model, x, (h0, c0))
    nam_meta: dict[str, Any] = {"name": info.get("name") or metadata.get("run") or "neuralfx"}
    for key in ("modeled_by", "gear_make", "gear_model", "gear_type", "tone_type"):
        nam_meta[key] = info.get(key)
    nam_meta.update(
        loudness=loudness,
        gain=gain,
        input_level_dbu=info.get("input_level_dbu"),
        output_level_dbu=info.get("output_level_dbu"),
    )
    return {
        "version": NAM_VERSION,
        "architecture": "LSTM",
        "config": {"input_size": 1, "hidden_size": hidden, "num_layers": rnn.num_layers},
        "weights": weights.tolist(),
        "sample_rate": float(rate),
        "metadata": nam_meta,
        "neuralfx": {**metadata, "format": "nam"},
    }


def _int(config: dict, key: str, lo: int, hi: int, where: str, default: int | None = None) -> int:
    v = config.get(key, default)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise ModelFileError(f"{where}: config {key!r} is {v!r}; neuralfx reads {lo} to {hi}")
    return v


def from_nam_dict(d: dict[str, Any], where: str) -> tuple[SequentialModel, dict[str, Any]]:
    """A NAM LSTM as a model that starts from the file's initial state, as NAM's loader does."""
    arch = d.get("architecture")
    if arch != "LSTM":
        raise ModelFileError(
            f'{where}: NAM architecture {arch!r}; neuralfx renders NAM "LSTM" files only'
        )
    if not isinstance(d.get("version"), str):
        raise ModelFileError(
            f"{where}: 'version' is {d.get('version')!r}; a .nam file has a version string"
        )
    config = d.get("config")
    if not isinstance(config, dict):
        raise ModelFileError(
            f"{where}: has no 'config' object; the file is truncated or not a .nam"
        )
    n_layers = _int(config, "num_layers", 1, MAX_LAYERS, where)
    hidden = _int(config, "hidden_size", 1, MAX_HIDDEN, where)
    _int(config, "input_size", 1, 1, where)
    _int(config, "in_channels", 1, 1, where, default=1)
    _int(config, "out_channels", 1, 1, where, default=1)
    weights = d.get("weights")
    per_layer = [
        4 * hidden * ((1 if k == 0 else hidden) + hidden) + 6 * hidden for k in range(n_layers)
    ]
    expected = sum(per_layer) + hidden + 1
    if not isinstance(weights, list) or len(weights) != expected:
        n = len(weights) if isinstance(weights, list) else type(weights).__name__
        raise ModelFileError(
            f"{where}: 'weights' holds {n} numbers; {n_layers} LSTM layer(s) of {hidden} units need {expected}"
        )
    try:
        flat = torch.tensor(weights, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        raise ModelFileError(f"{where}: 'weights' is not a flat list of numbers") from None
    if flat.ndim != 1 or not torch.isfinite(flat).all():
        raise ModelFileError(f"{where}: 'weights' holds NaN, inf or nested lists")
    layers: list[nn.Module] = []
    i = 0
    for k in range(n_layers):
        n_in = 1 if k == 0 else hidden
        w = flat[i : i + 4 * hidden * (n_in + hidden)].view(4 * hidden, n_in + hidden)
        i += w.numel()
        b = flat[i : i + 4 * hidden]
        i += 4 * hidden
        h0, c0 = flat[i : i + hidden], flat[i + hidden : i + 2 * hidden]
        i += 2 * hidden
        lstm = nn.LSTM(n_in, hidden, batch_first=True)
        with torch.no_grad():
            lstm.weight_ih_l0.copy_(w[:, :n_in])
            lstm.weight_hh_l0.copy_(w[:, n_in:])
            lstm.bias_ih_l0.copy_(b)
            lstm.bias_hh_l0.zero_()
        lstm.requires_grad_(False)
        layers.append(Recurrent("lstm", lstm, (h0.clone(), c0.clone())))
    layers.append(Dense(flat[i : i + hidden].view(hidden, 1).clone(), flat[i + hidden :].clone()))
    rate = d.get("sample_rate")
    if rate is not None and (
        not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate <= 0
    ):
        raise ModelFileError(f"{where}: 'sample_rate' is {rate!r}; expected a rate in Hz")
    model = SequentialModel(layers).eval()
    ours = d.get("neuralfx") if isinstance(d.get("neuralfx"), dict) else {}
    meta = {
        **ours,
        "format": "nam",
        "architecture": model.describe(),
        "skip": False,
        "sample_rate_hz": int(rate) if rate else None,
        "nam_version": d["version"],
    }
    if isinstance(d.get("metadata"), dict):
        meta["nam_metadata"] = d["metadata"]
    return model, meta
