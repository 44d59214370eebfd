"""The new recipe: the learning-rate schedule, envelope memory, target-esr
stops, and a resumed run with the schedule's state continuing exactly."""

import json
import math

import numpy as np
import pytest
import torch
from utils import RATE, fast_config, make_pair

import neuralfx
from neuralfx.dsp.memory import envelope_memory_s
from neuralfx.errors import RunError
from neuralfx.training.display import heading
from neuralfx.training.runs import read_metrics
from neuralfx.training.schedule import (
    DECAY_FRACTION,
    FINAL_FACTOR,
    Schedule,
    lr_factor,
    run_fraction,
)


def test_lr_holds_the_peak_then_follows_a_cosine_to_the_floor():
    assert lr_factor(0.0) == 1.0
    assert lr_factor(1.0 - DECAY_FRACTION) == pytest.approx(1.0)
    middle = 1.0 - DECAY_FRACTION / 2
    assert lr_factor(middle) == pytest.approx((1 + FINAL_FACTOR) / 2, rel=1e-6)
    assert lr_factor(1.0) == pytest.approx(FINAL_FACTOR)
    assert lr_factor(1.5) == pytest.approx(FINAL_FACTOR)  # an overrunning last step
    after = [lr_factor(f) for f in np.linspace(1.0 - DECAY_FRACTION, 1.0, 50)]
    assert all(a > b for a, b in zip(after, after[1:]))


def test_run_fraction_follows_the_budget_or_the_epochs_whichever_ends_first():
    assert run_fraction(45.0, 180.0, 0, 0, 10, 1000) == pytest.approx(0.25)
    assert run_fraction(0.0, 0.0, 3, 5, 10, 10) == pytest.approx(0.35)
    assert run_fraction(10.0, 180.0, 5, 0, 10, 10) == pytest.approx(0.5)  # epochs lead
    assert run_fraction(500.0, 180.0, 0, 0, 10, 10) == 1.0


def test_schedule_state_round_trips_and_refuses_a_foreign_one():
    s = Schedule(2e-2, 22050, 0.5)
    t = Schedule(1.0, 0, 0.0)
    t.load_state_dict(s.state_dict())
    assert t == s
    with pytest.raises(RunError):
        t.load_state_dict({"peak_lr": 1.0})


def _stepped_noise(seconds: float, seed: int = 0) -> np.ndarray:
    """White noise whose level jumps every 0.3 s, as a compressor's test signal."""
    rng = np.random.default_rng(seed)
    step = int(0.3 * RATE)
    levels = 10 ** (rng.uniform(-40, -3, int(seconds / 0.3) + 1) / 20)
    x = rng.standard_normal(int(seconds * RATE)) * np.repeat(levels, step)[: int(seconds * RATE)]
    return x.astype(np.float32)


def _slow_compressor(x: np.ndarray, release_s: float) -> np.ndarray:
    """Gain from a one-pole power follower: the output depends on the last ``release_s``."""
    a = np.exp(-1.0 / (release_s * RATE / 64))
    power = np.mean(np.square(x[: len(x) // 64 * 64].reshape(-1, 64)), axis=1)
    env = np.empty_like(power)
    acc = power[0]
    for i, p in enumerate(power):
        acc = a * acc + (1 - a) * p
        env[i] = acc
    gain = np.repeat(1.0 / np.sqrt(1.0 + env / 1e-3), 64)
    return (x[: len(gain)] * gain).astype(np.float32)


def test_envelope_memory_finds_a_release_and_nothing_in_a_waveshaper():
    x = _stepped_noise(30.0)
    memory = envelope_memory_s(x[: len(x) // 64 * 64], _slow_compressor(x, 0.1), RATE)
    assert 0.05 <= memory <= 0.5
    assert envelope_memory_s(x, np.tanh(4 * x), RATE) == 0.0
    assert envelope_memory_s(x, 0.5 * x, RATE) == 0.0


def test_measured_memory_lengthens_the_warm_up(tmp_path):
    x = _stepped_noise(8.0, seed=1)
    x = x[: len(x) // 64 * 64]
    data = make_pair(tmp_path / "comp", x, _slow_compressor(x, 0.1))
    r = neuralfx.train(fast_config(data, max_epochs=1))
    ck = torch.load(r.run_dir / "checkpoint.pt", weights_only=True)
    assert ck["scheduler"]["warmup_samples"] >= 0.05 * RATE > 256
    r = neuralfx.train(fast_config(data, max_epochs=1, memory_s=0.0, run_name="fixed"))
    ck = torch.load(r.run_dir / "checkpoint.pt", weights_only=True)
    assert ck["scheduler"]["warmup_samples"] == 256


def test_target_esr_stops_the_run(gain_data):
    r = neuralfx.train(fast_config(gain_data, max_epochs=200, target_esr=0.05))
    assert r.stopped_by == "target" and r.epochs < 200
    assert r.best_val_esr <= 0.05


def test_a_resumed_run_continues_exactly_as_an_uninterrupted_one(gain_data):
    whole = neuralfx.train(fast_config(gain_data, max_epochs=6, run_name="whole"))

    def stop_after_three(row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    cfg = fast_config(gain_data, max_epochs=6, run_name="cut")
    with pytest.raises(KeyboardInterrupt):
        neuralfx.train(cfg, on_epoch=stop_after_three)
    assert len(read_metrics(gain_data / "runs" / "cut" / "metrics.csv")) == 3
    resumed = neuralfx.train(cfg, resume=True)
    a = read_metrics(whole.run_dir / "metrics.csv")
    b = read_metrics(resumed.run_dir / "metrics.csv")
    assert [(r["val_loss"], r["lr"]) for r in a] == [(r["val_loss"], r["lr"]) for r in b]
    assert resumed.test_esr == whole.test_esr
    model_a = json.loads(whole.model_path.read_text())
    model_b = json.loads(resumed.model_path.read_text())
    assert model_a["lstm.weight_hh_l0"] == model_b["lstm.weight_hh_l0"]


def test_heading_extrapolates_the_trend_of_the_records():
    rows = [{"seconds": s, "val_esr": 1.0 / s} for s in (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)]
    assert heading(rows, 64.0) == pytest.approx(1.0 / 64.0, rel=1e-6)
    assert heading(rows[:2], 64.0) is None
    flat = [{"seconds": s, "val_esr": 0.1} for s in (1.0, 2.0, 4.0, 8.0)]
    assert heading(flat, 100.0) == pytest.approx(0.1)


def test_an_epoch_covers_epoch_audio_s_of_a_long_block_and_all_of_a_short_one(tmp_path):
    from neuralfx.training.tbptt import segment_batches

    cfg = fast_config(tmp_path, epoch_audio_s=2.0)  # 16 x 2 x 512 samples per batch
    rng = np.random.default_rng(0)
    long = segment_batches(150 * RATE, cfg, rng, 256, RATE)
    assert sum(len(b) for b in long) == math.ceil(2.0 * RATE / 1024)
    short = segment_batches(RATE, cfg, rng, 256, RATE)
    assert sum(len(b) for b in short) == math.ceil(RATE / 1024)  # the whole block
    whole = segment_batches(150 * RATE, fast_config(tmp_path, epoch_audio_s=0.0), rng, 256, RATE)
    assert sum(len(b) for b in whole) == math.ceil(150 * RATE / 1024)
