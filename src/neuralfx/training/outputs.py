"""What a run writes besides its checkpoint: model.json (the run's and the dataset's latest
copy) and the guitar demo renders, for plain and knob data alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..audio import read_wav_at, write_wav
from ..config import TrainConfig
from ..data import Dataset
from ..export import save_model
from ..render import render_array
from . import conditioning as knobs
from . import runs
from .result import model_metadata


class RunOutputs:
    """Where and how one run writes its models and demos; ``out_dir`` is DATA or --renders-dir."""

    def __init__(self, cfg: TrainConfig, data: Dataset, paths: runs.RunPaths, message):
        self.cfg, self.data, self.paths = cfg, data, paths
        self.out_dir = Path(cfg.renders_dir or cfg.data_dir)
        self.guitar = self._load_guitar(message)

    def _load_guitar(self, message) -> np.ndarray | None:
        """The demo riff at the dataset's rate, or None (with a notice) when renders are off."""
        if self.cfg.render_every <= 0:
            return None
        path = runs.find_guitar(self.cfg.data_dir)
        if path is None:
            message(f"no guitar.wav in {self.cfg.data_dir} or its parent: demo renders are skipped")
            return None
        return read_wav_at(path, self.data.sample_rate_hz)

    def save_models(self, model: torch.nn.Module, **extra: Any) -> Path:
        """The run's model.json and the dataset's latest copy; returns the run's."""
        meta = model_metadata(
            self.cfg,
            self.data.name,
            self.cfg.run_name,
            self.data.sample_rate_hz,
            # removed from the data by --align/--latency: a plugin reports it to its host
            latency_samples=self.data.latency_samples,
            **knobs.knob_model_metadata(self.data.split),
            **extra,
        )
        path = save_model(model, self.paths.model, meta)
        save_model(model, self.out_dir / "model.json", meta)
        return path

    def render_guitar(self, model: torch.nn.Module, stem: str, device: torch.device) -> Path:
        """``stem.wav``; for knob data ``stem_<setting>.wav`` at a few settings (the first is
        returned)."""
        split, rate = self.data.split, self.data.sample_rate_hz
        if not split.settings:
            audio = render_array(model, self.guitar, device=device)
            return write_wav(self.out_dir / f"{stem}.wav", audio, rate)
        written = []
        for s in knobs.demo_settings(split):
            audio = render_array(model, knobs.demo_input(self.guitar, split, s), device=device)
            written.append(write_wav(self.out_dir / f"{stem}_{s.label}.wav", audio, rate))
        return written[0]
