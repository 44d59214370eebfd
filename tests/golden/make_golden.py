"""Rewrite the golden model files: ``python tests/golden/make_golden.py`` (seeded, so the same
files come out unless the export formats or the models changed, which is what they guard).

Each model is a seeded registry model with its weights scaled so the gates leave their linear
region; ``input.npy`` is a fixed probe and ``<model>.expected.npy`` PyTorch's output on it.
"""

from pathlib import Path

import numpy as np
import torch

from neuralfx.config import ModelConfig
from neuralfx.export import save_model
from neuralfx.render import render_array

HERE = Path(__file__).resolve().parent
GOLDEN = {
    "lab_lstm8": (ModelConfig("lstm", 8), "lab"),
    "lab_gru16_skip": (ModelConfig("gru", 16, skip=True), "lab"),
    "native_gru8x2": (ModelConfig("gru", 8, 2), "native"),
    "native_conv_lstm8_skip": (ModelConfig("conv-lstm", 8, skip=True), "native"),
}


def probe() -> np.ndarray:
    n = np.arange(3000)
    rng = np.random.default_rng(7)
    x = 0.5 * np.sin(2 * np.pi * 220 * n / 44100) + 0.2 * rng.standard_normal(len(n))
    return x.astype(np.float32)


def main() -> None:
    from utils import random_model  # tests/ is on the path when run from the repository

    x = probe()
    np.save(HERE / "input.npy", x)
    for i, (name, (cfg, fmt)) in enumerate(GOLDEN.items()):
        model = random_model(cfg.name, cfg.hidden_size, cfg.num_layers, cfg.skip, seed=i)
        meta = {
            "model": cfg.name,
            "hidden_size": cfg.hidden_size,
            "num_layers": cfg.num_layers,
            "skip": cfg.skip,
            "sample_rate_hz": 44100,
            "golden": name,
        }
        save_model(model, HERE / f"{name}.json", meta, fmt)
        with torch.no_grad():
            np.save(HERE / f"{name}.expected.npy", render_array(model, x))


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(HERE.parent))
    main()
