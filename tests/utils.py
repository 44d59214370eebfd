"""Shared test helpers: tiny datasets, a fast training config, digests of folders."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from scipy.signal import lfilter

from neuralfx.audio import write_wav
from neuralfx.config import ModelConfig, TrainConfig
from neuralfx.models import build_model

RATE = 44100


def noise(seconds: float, seed: int = 0, level: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * RATE)) * level).astype(np.float32)


def softclip_grid(root: Path, seconds: float, knob: str) -> Path:
    """One clean input of noise, softclip over a knob grid (``drive_db=0:24:4``), knobs.csv."""
    from neuralfx.data.make import make_outputs

    write_wav(root / "input" / "riff.wav", noise(seconds))
    make_outputs(root, "softclip", "sc", knob=knob)
    return root


def make_pair(root: Path, x: np.ndarray, y: np.ndarray, name: str = "fx") -> Path:
    write_wav(root / "input" / f"{name}.wav", x)
    write_wav(root / "output" / f"{name}.wav", y)
    return root


# the same settings as command-line flags, for tests that run the CLI
FAST_FLAGS = [
    *("--quiet", "--hidden", "8", "--warmup", "256", "--chunk", "512", "--chunks", "2"),
    *("--linear-start", "off"),
]


def fast_config(data_dir: Path, **kw) -> TrainConfig:
    """Settings that train a tiny model in about a second per few epochs on 2 cores."""
    base = dict(
        data_dir=str(data_dir),
        model=ModelConfig(hidden_size=8),
        warmup_samples=256,
        chunk_samples=512,
        chunks_per_segment=2,
        batch_size=16,
        quiet=True,
        render_every=0,
        run_name="t",
        threads=1,
        # most fixtures are a gain or a filter: linear, so the default would not train at all
        linear_start="off",
    )
    base.update(kw)
    return TrainConfig(**base)


def tree_digest(root: Path) -> dict[str, str]:
    """Content hash of every file below root, to prove inputs are never written to."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def audio_digest(root: Path) -> dict[str, str]:
    """Hash of the decoded samples of every wav (float wavs carry a timestamped PEAK chunk)."""
    import soundfile as sf

    return {
        str(p.relative_to(root)): hashlib.sha256(
            sf.read(p, dtype="float32")[0].tobytes()
        ).hexdigest()
        for p in sorted(root.rglob("*.wav"))
    }


def write_raw_pair(root, x, y, rate_x=RATE, rate_y=RATE, name="fx"):
    """Write a pair as float wavs (so NaN and >1 values survive), bypassing write_wav's checks."""
    for folder, audio, rate in (("input", x, rate_x), ("output", y, rate_y)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        sf.write(root / folder / f"{name}.wav", audio, rate, subtype="FLOAT")
    return root


def delayed(x: np.ndarray, samples: int) -> np.ndarray:
    """``x`` arriving ``samples`` late, same length."""
    return np.concatenate([np.zeros(samples, np.float32), x[: len(x) - samples]])


def sine_and_noise(seconds: float = 0.5, seed: int = 0) -> np.ndarray:
    """A sine plus noise: the recurrent state sees both slow and fast movement."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    rng = np.random.default_rng(seed)
    return (0.5 * np.sin(2 * np.pi * 110 * t) + 0.2 * rng.standard_normal(n)).astype(np.float32)


def random_model(
    name: str,
    hidden: int,
    layers: int = 1,
    skip: bool = False,
    seed: int = 0,
    scale: float = 3.0,
    knobs: int = 0,
):
    """A seeded model whose weights are scaled up so the gates work away from their linear
    region, with the dense layer rescaled so the network's own output swings like audio:
    no DC, peak 0.9 on a probe signal.

    Default-initialised small models answer in millivolts, where a wrong gate order or bias
    convention can hide inside a 1e-5 tolerance; at full scale it cannot, and 1e-5 is then
    -100 dB below the signal rather than relative to an arbitrary level. With ``knobs`` the
    probe holds every knob at mid-range.
    """
    torch.manual_seed(seed)
    model = build_model(ModelConfig(name, hidden, layers, skip, knobs=knobs)).eval()
    audio = torch.from_numpy(sine_and_noise(0.1, seed=seed + 1)).view(1, -1, 1)
    x = torch.cat([audio, torch.full((1, audio.shape[1], knobs), 0.5)], dim=-1)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(scale)
        y, _ = model(x)
        y = y - audio if skip else y
        mean = float(y.mean())
        gain = 0.9 / float((y - mean).abs().max())
        model.dense.weight.mul_(gain)
        model.dense.bias.sub_(mean).mul_(gain)
    return model


# knobs of test models: units, a range not starting at 0, a negative one
KNOBS = (
    {"name": "drive_db", "unit": "dB", "lo": 0.0, "hi": 24.0},
    {"name": "tone", "unit": "", "lo": -5.0, "hi": 5.0},
    {"name": "mix", "unit": "%", "lo": 0.0, "hi": 100.0},
)


def metadata(name: str, hidden: int, layers: int = 1, skip: bool = False, knobs: int = 0) -> dict:
    meta = {
        "model": name,
        "hidden_size": hidden,
        "num_layers": layers,
        "skip": skip,
        "sample_rate_hz": RATE,
        "neuralfx": "test",
        "test_esr": None,
    }
    if knobs:
        meta["knobs"] = [dict(k) for k in KNOBS[:knobs]]
    return meta


@torch.inference_mode()
def run_blocks(model, x: np.ndarray, block: int = 4096) -> np.ndarray:
    """PyTorch output over blocks with the state carried, as the renderer and a plugin do."""
    state, out = None, []
    for start in range(0, len(x), block):
        y, state = model(torch.from_numpy(x[start : start + block]).view(1, -1, 1), state)
        out.append(y.view(-1).numpy())
    return np.concatenate(out)


def stepped_noise(seconds: float, seed: int = 0) -> np.ndarray:
    """Noise whose level jumps every 0.25 s between -40 and -6 dBFS."""
    rng = np.random.default_rng(seed)
    n_steps = int(seconds / 0.25)
    levels = 10 ** (rng.uniform(-40, -6, n_steps) / 20)
    env = np.repeat(levels, int(0.25 * RATE))
    return (rng.standard_normal(len(env)) * env).astype(np.float32)


def slow_compressor(x: np.ndarray, release_s: float) -> np.ndarray:
    """Gain from a one-pole level follower with a ``release_s`` time constant."""
    a = np.exp(-1.0 / (release_s * RATE))
    level = np.sqrt(lfilter([1 - a], [1, -a], x.astype(np.float64) ** 2) + 1e-10)
    return (x / (level / 0.05 + 1.0)).astype(np.float32)


def spy_on_chunks(monkeypatch) -> list[int]:
    """The trained length of every TBPTT chunk the trainer steps on, in order."""
    from neuralfx.training import loop

    lengths: list[int] = []
    real = loop.Trainer._step

    def step(self, xs, ys, states, sl, warmup, learner=None):
        if learner is None:  # the model's steps; a knob teacher steps on the same chunks
            lengths.append(sl.stop - sl.start - warmup)
        return real(self, xs, ys, states, sl, warmup, learner)

    monkeypatch.setattr(loop.Trainer, "_step", step)
    return lengths


def spy_steps(monkeypatch, wrap) -> None:
    """Route every training step's gradients through ``wrap(original)``: autograd's path
    (``loop.shard_grads``) and the fused one the plain model takes (``fused.shard_grads``)."""
    from neuralfx.training import fused, loop

    monkeypatch.setattr(loop, "shard_grads", wrap(loop.shard_grads))
    monkeypatch.setattr(fused, "shard_grads", wrap(fused.shard_grads))
