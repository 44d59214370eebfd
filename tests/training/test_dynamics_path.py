"""Data with an envelope memory: longer segments, and its LSTM trains on PyTorch's path."""

import dataclasses
import json

import torch
from utils import RATE, fast_config, make_pair, slow_compressor, stepped_noise

import neuralfx
from neuralfx.config import LossConfig, ModelConfig, TrainConfig
from neuralfx.export import load_model
from neuralfx.models import build_model
from neuralfx.models.fast import TRAIN_ON_TORCH, fast_path
from neuralfx.training import dynamics
from neuralfx.training.dynamics import (
    DYNAMICS_CHUNKS,
    DYNAMICS_PRE_EMPHASIS,
    PLAIN_CHUNKS,
    PLAIN_PRE_EMPHASIS,
    resolve_chunks,
    resolve_pre_emphasis,
)


def _run(data, monkeypatch, **kw) -> tuple[list[bool], dict]:
    """Whether the LSTM was marked for PyTorch's path, and the run's saved config."""
    seen = []
    real = dynamics.mark_for_torch

    def spy(model, memory_s, device):
        out = real(model, memory_s, device)
        seen.append(getattr(model.rnn, TRAIN_ON_TORCH, False))
        return out

    monkeypatch.setattr(dynamics, "mark_for_torch", spy)
    r = neuralfx.train(fast_config(data, max_epochs=1, **{"chunks_per_segment": 0, **kw}))
    return seen, json.loads((r.run_dir / "config.json").read_text())


def test_a_compressor_gets_long_segments_on_torch_and_a_gain_neither(tmp_path, monkeypatch, capsys):
    x = stepped_noise(8.0)
    comp = make_pair(tmp_path / "comp", x, slow_compressor(x, 0.1))
    marked, cfg = _run(comp, monkeypatch)
    assert marked == [True] and cfg["chunks_per_segment"] == DYNAMICS_CHUNKS
    assert cfg["loss"]["pre_emphasis"] == DYNAMICS_PRE_EMPHASIS == 0.0  # the plain ESR
    err = capsys.readouterr().err
    assert "segments of 0.75 s, the LSTM trained on PyTorch's path; a GRU (--model gru)" in err
    _run(comp, monkeypatch, model=ModelConfig(name="gru", hidden_size=8), run_name="gru")
    assert "segments of 0.75 s" in (err := capsys.readouterr().err) and "a GRU" not in err
    gain = make_pair(tmp_path / "gain", x, 0.5 * x)
    marked, cfg = _run(gain, monkeypatch)
    assert marked == [] and cfg["chunks_per_segment"] == PLAIN_CHUNKS
    assert cfg["loss"]["pre_emphasis"] == PLAIN_PRE_EMPHASIS == 0.85
    # a number given is kept, and the saved config is what a resume reads
    given = LossConfig(pre_emphasis=0.5)
    marked, cfg = _run(comp, monkeypatch, chunks_per_segment=3, loss=given, run_name="given")
    assert marked == [True] and cfg["chunks_per_segment"] == 3
    assert cfg["loss"]["pre_emphasis"] == 0.5


def test_an_unset_pre_emphasis_resolves_from_the_memory_and_a_given_one_is_kept():
    cfg = TrainConfig()
    assert cfg.loss.pre_emphasis is None
    assert resolve_pre_emphasis(cfg, 0.1).loss.pre_emphasis == DYNAMICS_PRE_EMPHASIS
    assert resolve_pre_emphasis(cfg, 0.019).loss.pre_emphasis == PLAIN_PRE_EMPHASIS
    off = dataclasses.replace(cfg, loss=LossConfig(pre_emphasis=0.0))
    assert resolve_pre_emphasis(off, 0.0) is off


def test_segments_grow_only_as_far_as_the_training_block_allows():
    cfg = TrainConfig(chunks_per_segment=0, warmup_samples=1024, chunk_samples=512)
    assert resolve_chunks(cfg, 0.1, 1_000_000).chunks_per_segment == DYNAMICS_CHUNKS
    assert resolve_chunks(cfg, 0.1, 1024 + 40 * 512).chunks_per_segment == 40
    # never shorter than an effect without memory gets (the loader checked that much fits)
    assert resolve_chunks(cfg, 0.1, 1024 + 5 * 512).chunks_per_segment == PLAIN_CHUNKS
    assert resolve_chunks(cfg, 0.0, 1_000_000).chunks_per_segment == PLAIN_CHUNKS
    assert resolve_chunks(cfg, 0.019, 1_000_000).chunks_per_segment == PLAIN_CHUNKS
    given = dataclasses.replace(cfg, chunks_per_segment=7)
    assert resolve_chunks(given, 0.1, 1_000_000) is given


def test_the_mark_keeps_training_off_the_kernels_but_not_inference():
    model = build_model(ModelConfig(hidden_size=8))
    x = torch.zeros(2, 64, 1)
    assert fast_path(model.rnn, x)  # training an LSTM-8 runs on the kernels by default
    setattr(model.rnn, TRAIN_ON_TORCH, True)
    assert not fast_path(model.rnn, x)
    with torch.no_grad():
        assert fast_path(model.rnn, x)


def test_an_lstm_for_dynamics_starts_with_time_constants_up_to_the_memory():
    torch.manual_seed(0)
    lstm = build_model(ModelConfig(hidden_size=32))
    assert dynamics.init_for_dynamics(lstm, 0.1, 44100)
    h, b = 32, lstm.rnn.bias_ih_l0 + lstm.rnn.bias_hh_l0
    keep = torch.sigmoid(b[h : 2 * h])  # the share of the cell state a unit keeps a sample
    samples = 1 / (1 - keep)  # its time constant
    assert samples.min() < 10 and samples.max() > 1000 and samples.max() <= 4410 * 1.01
    assert torch.allclose(b[:h], -b[h : 2 * h])  # a slow unit also takes in slowly
    # the promise in state terms: a unit with T = 1,000 holds a level that long, the default
    # init holds it for about 2 samples (forget gate sigmoid(0) = 0.5)
    slowest = int(samples.argmax())
    assert keep[slowest] ** 1000 > 0.3
    # no change without dynamics, nor for a GRU (not measured to gain from it)
    for model, memory_s in (
        (build_model(ModelConfig(hidden_size=8)), 0.005),
        (build_model(ModelConfig(name="gru", hidden_size=8)), 0.1),
    ):
        before = [p.clone() for p in model.parameters()]
        assert not dynamics.init_for_dynamics(model, memory_s, 44100)
        assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))


def test_a_dynamics_run_starts_from_the_spread_and_init_from_a_capture_wins(tmp_path, monkeypatch):
    x = stepped_noise(8.0)
    comp = make_pair(tmp_path / "comp", x, slow_compressor(x, 0.1))
    seen = []
    real = dynamics.init_memory

    def spy(rnn, longest):
        seen.append(longest)
        real(rnn, longest)

    monkeypatch.setattr(dynamics, "init_memory", spy)
    r = neuralfx.train(fast_config(comp, max_epochs=1, chunks_per_segment=0))
    assert len(seen) == 1 and 0.05 * RATE < seen[0] < 0.5 * RATE  # the memory, in samples
    # --init: the capture's weights are the start, not the spread
    capture = r.run_dir / "model.json"
    cfg = fast_config(comp, max_epochs=1, init_model=str(capture), run_name="b")
    r2 = neuralfx.train(dataclasses.replace(cfg, learning_rate=1e-9))  # the start, kept
    a, b = (load_model(str(p))[0].rnn.bias_ih_l0 for p in (capture, r2.run_dir / "model.json"))
    assert torch.allclose(a, b, atol=1e-6)
