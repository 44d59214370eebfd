"""Shared test helpers: tiny datasets, a fast training config, digests of folders."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from neuralfx.audio import write_wav
from neuralfx.config import ModelConfig, TrainConfig

RATE = 44100


def noise(seconds: float, seed: int = 0, level: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(int(seconds * RATE)) * level).astype(np.float32)


def make_pair(root: Path, x: np.ndarray, y: np.ndarray, name: str = "fx") -> Path:
    write_wav(root / "input" / f"{name}.wav", x)
    write_wav(root / "output" / f"{name}.wav", y)
    return root


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
