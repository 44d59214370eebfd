"""Train a Neural Amp Modeler model through NAM's own "full" trainer, then run it on our test block.

Runs inside ``bench/out/nam-venv`` (``pip install torch==2.13.0 neural-amp-modeler``), never in
ours; it imports nothing from neuralfx. ``bench/accuracy.py`` calls it once per dataset and
architecture and scores the prediction it writes with our ESR.

Settings are NAM's own, changed only where the comparison demands it (each is said below):
 * lstm: ``nam_full_configs/models/lstm.json`` (burn-in 8192, no truncation, lr 8e-3, gamma
   0.995, MSE + 0.002 pre-emphasised MR-STFT, first 8192 samples masked), but 1 layer of the
   hidden size we train (32) instead of 3 x 18, and ny = 32768 as its comment advises;
 * wavenet: the smallest submodel ("channels_3") of the WaveNet that NAM 0.13's standard trainer
   packs, trained alone as a plain WaveNet with that file's optimiser, scheduler and loss;
 * data: the same sample ranges as our split (train 0-80 %, validation 80-90 %) of the same
   files, at their 44.1 kHz (NAM's full trainer takes the rate from the file; only its
   standard-input GUI path insists on 48 kHz), with the 0.4 s pre-silence check off because our
   training block starts at sample 0; batch 16 (NAM's default), no pinned memory (CPU);
 * level: NAM refuses a target that reaches 1.0 ("Output clipped"); resonant peaks at 5.6 and
   fuzz at 1.5 in our float wavs, so such a target is scaled by NAM's own ``y_scale`` to a 0.9
   peak and the prediction divided by the same factor before scoring (ESR is unchanged by a
   common gain);
 * budget: a callback stops training once the time spent outside validation passes the budget,
   as ``neuralfx.train`` counts it (Lightning's ``max_time`` would also count validation).

    nam-venv/bin/python bench/nam_train.py --arch lstm --x IN.wav --y OUT.wav \
        --train-stop N --val-stop M --budget 180 --out DIR
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import resources
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import soundfile as sf
import torch


class TrainTimeBudget(pl.Callback):
    """Stop after ``budget_s`` seconds of training, validation time excluded."""

    def __init__(self, budget_s: float):
        self.budget_s, self.used_s, self.t0 = budget_s, 0.0, None
        self.epochs = 0

    def _pause(self):
        if self.t0 is not None:
            self.used_s += time.perf_counter() - self.t0
            self.t0 = None

    def on_train_epoch_start(self, trainer, pl_module):
        self.t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module):
        self.epochs += 1

    def on_validation_start(self, trainer, pl_module):
        self._pause()

    def on_validation_end(self, trainer, pl_module):
        if trainer.training and not trainer.sanity_checking:
            self.t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if self.t0 is not None and self.used_s + time.perf_counter() - self.t0 >= self.budget_s:
            trainer.should_stop = True


def model_config(arch: str, hidden: int) -> tuple[dict, int]:
    """NAM's model config for ``arch`` and the ``ny`` (output samples per item) to train with."""
    if arch == "lstm":
        return {
            "net": {
                "name": "LSTM",
                "config": {
                    "num_layers": 1,
                    "hidden_size": hidden,
                    "train_burn_in": 8192,
                    "train_truncate": None,
                },
            },
            "loss": {
                "val_loss": "esr",
                "mask_first": 8192,
                "pre_emph_mrstft_weight": 0.002,
                "pre_emph_mrstft_coef": 0.85,
            },
            "optimizer": {"lr": 0.008},
            "lr_scheduler": {"class": "ExponentialLR", "kwargs": {"gamma": 0.995}},
        }, 32768
    packed = json.loads(
        resources.files("nam.train._resources").joinpath("config_model_packed.json").read_text()
    )
    sub = {s["name"]: s["config"] for s in packed["net"]["config"]["submodels"]}
    return {
        "net": {"name": "WaveNet", "config": sub["channels_3"]},
        "loss": packed["loss"],
        "optimizer": packed["optimizer"],
        "lr_scheduler": packed["lr_scheduler"],
    }, 8192


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--arch", choices=["lstm", "wavenet"], required=True)
    p.add_argument("--x", required=True)
    p.add_argument("--y", required=True)
    p.add_argument("--train-stop", type=int, required=True)
    p.add_argument("--val-stop", type=int, required=True)
    p.add_argument("--budget", type=float, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--out", required=True)
    args = p.parse_args()

    from nam.models._from_nam import init_from_nam
    from nam.train import full

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    mcfg, ny = model_config(args.arch, args.hidden)
    y_peak = float(np.max(np.abs(sf.read(args.y, dtype="float32", always_2d=True)[0][:, 0])))
    y_scale = 0.9 / y_peak if y_peak >= 1.0 else 1.0
    data = {
        "train": {"start_samples": 0, "stop_samples": args.train_stop, "ny": ny},
        "validation": {"start_samples": args.train_stop, "stop_samples": args.val_stop, "ny": None},
        "common": {
            "x_path": args.x,
            "y_path": args.y,
            "delay": 0,
            "require_input_pre_silence": None,
            "y_scale": y_scale,
        },
    }
    learning = {
        "train_dataloader": {
            "batch_size": 16,
            "shuffle": True,
            "pin_memory": False,
            "drop_last": True,
            "num_workers": 0,
        },
        "val_dataloader": {},
        "trainer": {
            "accelerator": "cpu",
            "devices": 1,
            "max_epochs": 100_000,
            "num_sanity_val_steps": 0,
            "enable_progress_bar": False,
        },
        "trainer_fit_kwargs": {},
    }
    budget = TrainTimeBudget(args.budget)
    make_callbacks = full._create_callbacks
    full._create_callbacks = lambda *a, **k: make_callbacks(*a, **k) + [budget]
    t0 = time.perf_counter()
    full.main(data, mcfg, learning, out, no_show=True, make_plots=False)
    wall_s = time.perf_counter() - t0

    model = init_from_nam(json.loads((out / "model.nam").read_text()))
    model.eval()
    x, rate = sf.read(args.x, dtype="float32", always_2d=True)
    test_x = torch.from_numpy(np.ascontiguousarray(x[args.val_stop :, 0]))
    t1 = time.perf_counter()
    with torch.no_grad():
        pred = (model(test_x, pad_start=True).numpy() / y_scale).astype(np.float32)
    render_s = time.perf_counter() - t1
    np.save(out / "test_prediction.npy", pred)
    params = sum(p.numel() for p in model.parameters())
    (out / "summary.json").write_text(
        json.dumps(
            {
                "arch": args.arch,
                "train_seconds": budget.used_s,
                "wall_seconds": wall_s,
                "epochs": budget.epochs,
                "parameters": params,
                "sample_rate_hz": rate,
                "test_render_s": render_s,
                "nam_config": mcfg,
                "ny": ny,
                "y_scale": y_scale,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
