"""Data with an envelope memory trains its LSTM on PyTorch's path; inference stays fused."""

import torch
from utils import fast_config, make_pair, slow_compressor, stepped_noise

import neuralfx
from neuralfx.config import ModelConfig
from neuralfx.models import build_model
from neuralfx.models.fast import TRAIN_ON_TORCH, fast_path
from neuralfx.training import loop


def _marks(data, monkeypatch, **kw) -> list[bool]:
    seen = []
    real = loop.Trainer._train_dynamics_on_torch

    def spy(self):
        real(self)
        seen.append(getattr(self.model.rnn, TRAIN_ON_TORCH, False))

    monkeypatch.setattr(loop.Trainer, "_train_dynamics_on_torch", spy)
    neuralfx.train(fast_config(data, max_epochs=1, **kw))
    return seen


def test_a_compressor_trains_on_torch_and_a_gain_on_the_kernels(tmp_path, monkeypatch, capsys):
    x = stepped_noise(8.0)
    comp = make_pair(tmp_path / "comp", x, slow_compressor(x, 0.1))
    assert _marks(comp, monkeypatch) == [True]
    assert "training the LSTM on PyTorch's path" in capsys.readouterr().err
    gain = make_pair(tmp_path / "gain", x, 0.5 * x)
    assert _marks(gain, monkeypatch) == [False]


def test_the_mark_keeps_training_off_the_kernels_but_not_inference():
    model = build_model(ModelConfig(hidden_size=8))
    x = torch.zeros(2, 64, 1)
    assert fast_path(model.rnn, x)  # training an LSTM-8 runs on the kernels by default
    setattr(model.rnn, TRAIN_ON_TORCH, True)
    assert not fast_path(model.rnn, x)
    with torch.no_grad():
        assert fast_path(model.rnn, x)
