"""The fused gradient path computes what autograd computes, and only where it applies."""

import dataclasses

import numpy as np
import pytest
import torch
from utils import fast_config, make_pair, stepped_noise

import neuralfx
from neuralfx.config import ModelConfig
from neuralfx.losses import EffectLoss
from neuralfx.models import build_model
from neuralfx.models.fast import TRAIN_ON_TORCH, set_kernels
from neuralfx.training import fused, tbptt

CASES = [  # cell, units, skip, knobs, pre-emphasis, DC weight
    ("lstm", 16, False, 0, 0.85, 0.25),
    ("gru", 16, False, 0, 0.85, 0.25),
    ("lstm", 8, True, 2, 0.0, 0.25),
    ("gru", 12, True, 1, 0.0, 0.0),
]


def _problem(cell, units, skip, knobs, pre, dc, seed=0):
    torch.manual_seed(seed)
    model = build_model(ModelConfig(name=cell, hidden_size=units, skip=skip, knobs=knobs))
    level = np.random.default_rng(seed).standard_normal(4000).astype(np.float32) * 0.2
    loss = EffectLoss(esr_weight=0.75, dc_weight=dc, pre_emphasis=pre, level=level)
    x = torch.randn(5, 40 + 90, 1 + knobs) * 0.4
    y = torch.tanh(3 * x[..., :1]) + 0.02 * x[..., -1:]
    return model, loss, list(model.parameters()), x, y


def _leaves(state):
    if isinstance(state, torch.Tensor):
        return [state]
    return [t for part in state or () for t in _leaves(part)]


def _close(got, want, tol):
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        assert float((g - w).abs().max()) <= tol * (float(w.abs().max()) + 1e-12)


@pytest.mark.parametrize("case", CASES)
def test_loss_gradients_and_state_match_autograd_over_two_chunks(case):
    model, loss_fn, params, x, y = _problem(*case)
    assert fused.supported(model, loss_fn)
    first = x[:, :100], y[:, :100]
    want = tbptt.shard_grads(model, loss_fn, params, *first, None, 40)
    got = fused.shard_grads(model, loss_fn, params, *first, None, 40)
    assert float(got[0]) == pytest.approx(float(want[0]), rel=1e-5)
    _close(got[1], want[1], 1e-5)
    _close(_leaves(got[2]), _leaves(want[2]), 1e-6)
    # the next chunk carries the state on; PyTorch's own layer is the independent reference
    rest = x[:, 100:], y[:, 100:]
    got2 = fused.shard_grads(model, loss_fn, params, *rest, got[2], 0)
    previous = set_kernels("torch")
    try:
        want2 = tbptt.shard_grads(model, loss_fn, params, *rest, want[2], 0)
    finally:
        set_kernels(previous)
    assert float(got2[0]) == pytest.approx(float(want2[0]), rel=1e-4)
    _close(got2[1], want2[1], 1e-4)
    assert len({id(g) for g in got2[1]}) == len(params)  # each its own tensor


def test_it_applies_only_to_the_plain_model_on_the_kernels():
    model, loss_fn, *_ = _problem("lstm", 16, False, 0, 0.85, 0.25)
    assert fused.supported(model, loss_fn)
    assert not fused.supported(model, torch.nn.MSELoss())
    assert not fused.supported(build_model(ModelConfig(num_layers=2, hidden_size=8)), loss_fn)
    assert not fused.supported(build_model(ModelConfig(name="conv-lstm", hidden_size=8)), loss_fn)
    wide = build_model(ModelConfig(hidden_size=48))  # trains on oneDNN (models/fast)
    assert not fused.supported(wide, loss_fn)
    setattr(model.rnn, TRAIN_ON_TORCH, True)  # the rule for data with dynamics
    assert not fused.supported(model, loss_fn)
    delattr(model.rnn, TRAIN_ON_TORCH)
    previous = set_kernels("torch")
    try:
        assert not fused.supported(model, loss_fn)
    finally:
        set_kernels(previous)


def test_a_non_finite_loss_gives_no_gradients():
    model, loss_fn, params, x, y = _problem("lstm", 8, False, 0, 0.85, 0.25)
    y = y.clone()
    y[0, 5, 0] = float("inf")
    loss, grads, _ = fused.shard_grads(model, loss_fn, params, x, y, None, 0)
    assert not torch.isfinite(loss) and grads is None


def test_mean_grads_gives_every_parameter_its_own_tensor():
    a, b = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(3))
    shared = torch.ones(3)
    tbptt.mean_grads([a, b], [[shared, shared]])  # the kernels' two LSTM biases
    assert a.grad is not b.grad and torch.equal(a.grad, b.grad)
    tbptt.mean_grads([a, b], [[torch.ones(3), torch.ones(3)], [torch.zeros(3), 3 * torch.ones(3)]])
    assert torch.equal(a.grad, torch.full((3,), 0.5)) and torch.equal(b.grad, torch.full((3,), 2.0))


def test_a_run_takes_the_fused_path_and_reproduces_itself(tmp_path, monkeypatch):
    calls = []
    original = fused.shard_grads

    def counted(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(fused, "shard_grads", counted)
    x = stepped_noise(4.0)
    data = make_pair(tmp_path / "clip", x, (x * 3).clip(-0.5, 0.5))
    cfg = dataclasses.replace(fast_config(data, max_epochs=2), model=ModelConfig(hidden_size=8))
    first = neuralfx.train(cfg)
    assert calls  # the plain LSTM on the CPU kernels steps on the fused path
    again = neuralfx.train(dataclasses.replace(cfg, run_name="again"))
    assert again.best_val_esr == first.best_val_esr  # seeded runs repeat exactly
