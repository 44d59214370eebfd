import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from utils import FAST_FLAGS, fast_config, make_pair, noise, spy_steps, tree_digest

import neuralfx
from neuralfx.config import ModelConfig
from neuralfx.export import load_model
from neuralfx.losses import esr
from neuralfx.models import build_model
from neuralfx.render import render_array
from neuralfx.training.runs import read_metrics

LAB_KEYS = {
    "lstm.weight_ih_l0": [128, 1],
    "lstm.weight_hh_l0": [128, 32],
    "lstm.bias_ih_l0": [128],
    "lstm.bias_hh_l0": [128],
    "dense.weight": [1, 32],
    "dense.bias": [1],
}


def _shape(v):
    return [len(v)] + _shape(v[0]) if isinstance(v, list) else []


def test_learns_a_gain_of_half(gain_data):
    before = tree_digest(gain_data / "input") | tree_digest(gain_data / "output")
    r = neuralfx.train(fast_config(gain_data, max_epochs=14))
    assert r.test_esr < 1e-3
    assert (tree_digest(gain_data / "input") | tree_digest(gain_data / "output")) == before
    saved = json.loads((r.run_dir / "result.json").read_text())
    assert saved["test_esr"] == pytest.approx(r.test_esr)
    # the test ESR is recomputed honestly from the saved model on the test block
    model, meta = load_model(gain_data / "model.json")
    assert meta["test_esr"] == pytest.approx(r.test_esr)


def test_model_json_has_the_lab_keys_and_round_trips(gain_data):
    r = neuralfx.train(
        fast_config(gain_data, max_epochs=1, model=neuralfx.ModelConfig(hidden_size=32))
    )
    d = json.loads(r.model_path.read_text())
    assert {k: _shape(v) for k, v in d.items() if k != "neuralfx"} == LAB_KEYS
    assert d["neuralfx"]["hidden_size"] == 32 and d["neuralfx"]["sample_rate_hz"] == 44100
    model, _ = load_model(r.model_path)
    ck = torch.load(r.run_dir / "checkpoint.pt", weights_only=False)
    ref = build_model(ModelConfig("lstm", 32))
    ref.load_state_dict(ck["progress"]["best_state"])
    x = noise(0.5, seed=3)
    np.testing.assert_array_equal(render_array(model, x), render_array(ref, x))


def test_records_are_written_only_on_improvement(gain_data):
    seen = []

    def on_epoch(row):
        meta = json.loads((gain_data / "runs" / "t" / "model.json").read_text())["neuralfx"]
        seen.append((row["epoch"], row["val_loss"], meta["epoch"]))

    neuralfx.train(fast_config(gain_data, max_epochs=8, learning_rate=3e-2), on_epoch=on_epoch)
    best, best_epoch = float("inf"), None
    for epoch, val, saved_epoch in seen:
        if val < best:
            best, best_epoch = val, epoch
        assert saved_epoch == best_epoch
    assert len({s for *_, s in seen}) < len(seen) or all(
        a[1] > b[1] for a, b in zip(seen, seen[1:])
    )


def test_renders_appear_at_the_configured_epochs(tmp_path):
    # the lab keeps guitar.wav beside the dataset folder: the parent folder counts too
    data = make_pair(tmp_path / "dist", noise(4.0), np.tanh(3 * noise(4.0)), name="dist")
    neuralfx.audio.write_wav(tmp_path / "guitar.wav", noise(0.5, seed=9))
    neuralfx.train(fast_config(data, max_epochs=5, render_every=2))
    renders = sorted(p.name for p in data.glob("dist*.wav"))
    assert renders == ["dist0.wav", "dist2.wav", "dist4.wav", "dist_best.wav"]


def test_without_guitar_training_still_works_and_says_so(gain_data, capsys):
    neuralfx.train(fast_config(gain_data, max_epochs=1, render_every=1))
    assert capsys.readouterr().err.count("renders are skipped") == 1


def test_budget_stops_training(gain_data):
    r = neuralfx.train(fast_config(gain_data, max_epochs=10_000, budget_s=1.5))
    assert r.stopped_by == "budget" and r.epochs < 10_000
    # the budget is checked after every batch, so it overshoots by at most one batch
    assert 1.5 <= r.train_seconds < 1.5 + 5


def test_killed_run_resumes_and_finishes(gain_data):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable,
        "-m",
        "neuralfx",
        "train",
        str(gain_data),
        *FAST_FLAGS,
        "--batch-size",
        "16",
        "--max-epochs",
        "12",
        "--patience",
        "100",
        "--run-name",
        "k",
        "--render-every",
        "0",
        "--threads",
        "1",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    metrics = gain_data / "runs" / "k" / "metrics.csv"
    deadline = time.time() + 120
    while time.time() < deadline:
        if metrics.exists() and len(read_metrics(metrics)) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(read_metrics(metrics))
    assert 3 <= done_before < 12, "the run must be killed mid-training"
    assert not (gain_data / "runs" / "k" / "result.json").exists()
    out = subprocess.run(
        cmd[:5] + ["--resume", "k", "--quiet"], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    rows = read_metrics(metrics)
    assert [int(r["epoch"]) for r in rows] == list(range(12))
    assert "resuming" in out.stderr
    assert (gain_data / "runs" / "k" / "result.json").exists()


def test_init_starts_from_another_tools_model_file(gain_data, tmp_path, capsys):
    """An AIDA-X file of a GRU-8 with skip: `--init` takes its architecture and weights, so
    epoch 0 already validates at the imported model's ESR, not a fresh one's."""
    from utils import metadata, random_model

    from neuralfx.cli import main
    from neuralfx.data import load_dataset
    from neuralfx.export import save_model

    src = random_model("gru", 8, skip=True, seed=3)
    aidax = save_model(src, tmp_path / "capture.aidax.json", metadata("gru", 8, skip=True), "aidax")
    split = load_dataset(gain_data).split
    imported_val = esr(split.val_y, render_array(src, split.val_x))
    argv = [
        "train",
        str(gain_data),
        *FAST_FLAGS,
        "--init",
        str(aidax),
        "--max-epochs",
        "1",
        "--lr",
        "1e-9",
        "--run-name",
        "init",
        "--threads",
        "1",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    model, meta = load_model(gain_data / "runs" / "init" / "model.json")
    assert (meta["model"], meta["hidden_size"], meta["skip"]) == ("gru", 8, True)
    assert meta["val_esr"] == pytest.approx(imported_val, rel=1e-3)  # lr 1e-9: barely moved
    capsys.readouterr()
    wrong = ["train", str(gain_data), *FAST_FLAGS, "--init", str(aidax), "--model", "lstm"]
    assert main(wrong) == 2
    assert "pass --model gru --hidden 8 --layers 1 --skip" in capsys.readouterr().err


def test_a_step_with_an_infinite_gradient_is_skipped_not_taken(gain_data, monkeypatch):
    """A finite loss can have an infinite gradient; clipped it becomes NaN, and one such step
    used to poison every weight for the rest of the run (seen on sox overdrive at 40 dB)."""
    calls = {"n": 0}

    def wrap(real):
        def sometimes_infinite(*args):
            loss, grads, state = real(*args)
            calls["n"] += 1
            if calls["n"] % 3 == 0:
                grads = tuple(g * float("inf") for g in grads)
            return loss, grads, state

        return sometimes_infinite

    spy_steps(monkeypatch, wrap)
    r = neuralfx.train(fast_config(gain_data, max_epochs=4, run_name="inf"))
    model, _ = load_model(r.model_path)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    rows = read_metrics(r.run_dir / "metrics.csv")
    assert all(np.isfinite(row["val_loss"]) for row in rows) and r.test_esr < 0.5
    assert calls["n"] >= 6


def test_compiling_the_kernels_is_not_training_time(gain_data, monkeypatch):
    """A fresh install compiles the numba kernels (seconds; ~20 s on a busy machine): done
    before the clock starts, so a 20 s budget buys 20 s of training."""
    from neuralfx.models import fast

    real = fast._compile

    def slow_compile(cell):
        time.sleep(1.5)
        return real(cell)

    monkeypatch.setattr(fast, "_loaded", {})
    monkeypatch.setattr(fast, "_compile", slow_compile)
    r = neuralfx.train(fast_config(gain_data, max_epochs=1, run_name="jit"))
    assert r.train_seconds < 1.5, r.train_seconds
