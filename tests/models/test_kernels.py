"""The numba recurrences against nn.GRU/nn.LSTM: same outputs, states and gradients."""

from __future__ import annotations

import logging
import threading
import time

import numpy as np
import pytest
import torch
from torch import nn

from neuralfx.config import ModelConfig
from neuralfx.errors import ConfigError
from neuralfx.models import build_model, fast
from neuralfx.models.fast import kernels
from neuralfx.models.fast import layers as fast_layers

TOL = dict(atol=1e-5, rtol=1e-5)
CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def _states(cell: str, layers: int, batch: int, hidden: int) -> list[torch.Tensor]:
    count = 2 if cell == "lstm" else 1
    return [torch.randn(layers, batch, hidden, requires_grad=True) for _ in range(count)]


def _run(run, rnn, x, states):
    """Outputs, final states and the gradients of a loss that weights each of them."""
    state = tuple(states) if len(states) == 2 else states[0]
    y, final = run(rnn, x, state)
    finals = list(final) if isinstance(final, tuple) else [final]
    weights = torch.linspace(-1.0, 1.0, y.shape[-1])
    loss = (y * weights).mean() + sum((f**2).mean() for f in finals)
    grads = torch.autograd.grad(loss, [x, *states, *rnn.parameters()])
    return [y, *finals, *grads]


@pytest.mark.parametrize("inputs", [1, 2, 3, 4])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("hidden", [8, 16, 32, 64])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_training_matches_torch(cell, hidden, layers, inputs):
    torch.manual_seed(hidden * 10 + layers + inputs)
    rnn = CELLS[cell](inputs, hidden, num_layers=layers, batch_first=True)
    x = torch.randn(3, 17, inputs, requires_grad=True)
    states = _states(cell, layers, 3, hidden)
    kernel_path = fast_layers.gru_forward if cell == "gru" else fast_layers.lstm_forward
    ours = _run(kernel_path, rnn, x, states)
    theirs = _run(lambda r, x, s: r(x, s), rnn, x, states)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_inference_blocks_match_torch(cell):
    """Streaming blocks under inference_mode, the state carried, as render_array does."""
    torch.manual_seed(1)
    rnn = CELLS[cell](1, 16, num_layers=2, batch_first=True)
    x = torch.randn(1, 300, 1)
    with torch.inference_mode():
        whole, whole_state = rnn(x)
        state, parts = None, []
        for block in x.split(128, dim=1):
            y, state = fast.recurrent_forward(rnn, block, state)
            parts.append(y)
    torch.testing.assert_close(torch.cat(parts, dim=1), whole, **TOL)
    for a, b in zip(
        state if cell == "lstm" else [state], whole_state if cell == "lstm" else [whole_state]
    ):
        torch.testing.assert_close(a, b, **TOL)


@pytest.mark.parametrize("name", ["gru", "lstm", "conv-gru", "conv-lstm"])
def test_model_matches_torch_path_and_keeps_keys(name):
    torch.manual_seed(2)
    model = build_model(ModelConfig(name, 8, num_layers=2, skip=True))
    keys = set(model.state_dict())
    x = torch.randn(2, 40, 1)
    y, state = model(x[:, :25])
    y2, _ = model(x[:, 25:], state)
    fast.set_kernels("torch")
    try:
        ref, ref_state = model(x[:, :25])
        ref2, _ = model(x[:, 25:], ref_state)
    finally:
        fast.set_kernels(None)
    torch.testing.assert_close(torch.cat([y, y2], 1), torch.cat([ref, ref2], 1), **TOL)
    assert set(model.state_dict()) == keys
    assert f"{model.cell}.weight_hh_l1" in keys


@pytest.mark.parametrize("hidden, trains_fast", [(8, True), (32, True), (48, False), (64, False)])
def test_lstm_trains_on_the_kernels_only_where_they_win(hidden, trains_fast):
    rnn, x = nn.LSTM(1, hidden, batch_first=True), torch.zeros(1, 4, 1)
    assert fast.fast_path(rnn, x) is trains_fast
    assert fast.fast_path(nn.GRU(1, hidden, batch_first=True), x)
    with torch.no_grad():
        assert fast.fast_path(rnn, x)


def test_env_var_forces_torch_and_rejects_unknown(monkeypatch):
    rnn, x = nn.GRU(1, 8, batch_first=True), torch.zeros(1, 4, 1)
    monkeypatch.setenv(fast.ENV_VAR, "torch")
    assert not fast.fast_path(rnn, x)
    monkeypatch.setenv(fast.ENV_VAR, "numba-please")
    with pytest.raises(ConfigError, match="numba-please"):
        fast.fast_path(rnn, x)
    monkeypatch.setenv(fast.ENV_VAR, "auto")
    assert fast.fast_path(rnn, x)
    with pytest.raises(ConfigError, match="set_kernels"):
        fast.set_kernels("fast")


@pytest.mark.parametrize(
    "rnn, x",
    [
        (nn.GRU(1, 8, batch_first=True).double(), torch.zeros(1, 4, 1, dtype=torch.float64)),
        (nn.LSTM(1, 8, batch_first=False), torch.zeros(4, 1, 1)),
        (nn.LSTM(1, 8, batch_first=True, bidirectional=True), torch.zeros(1, 4, 1)),
        (nn.GRU(1, 8, num_layers=2, batch_first=True, dropout=0.5), torch.zeros(1, 4, 1)),
        (nn.LSTM(1, 8, batch_first=True, proj_size=4), torch.zeros(1, 4, 1)),
        (nn.GRU(1, 8, batch_first=True, bias=False), torch.zeros(1, 4, 1)),
    ],
)
@pytest.mark.filterwarnings("ignore:LSTM with projections")
def test_layers_the_kernels_do_not_cover_run_on_torch(rnn, x):
    assert not fast.fast_path(rnn, x)
    torch.manual_seed(0)  # the same dropout masks
    y, _ = fast.recurrent_forward(rnn, x, None)
    torch.manual_seed(0)
    torch.testing.assert_close(y, rnn(x)[0])


def test_failed_compile_falls_back_with_one_notice(monkeypatch, caplog):
    def broken(cell):
        raise RuntimeError("no LLVM today\nsecond line")

    monkeypatch.setattr(fast, "_loaded", {})
    monkeypatch.setattr(fast, "_compile", broken)
    model = build_model(ModelConfig("gru", 8))
    x = torch.randn(1, 20, 1)
    with caplog.at_level(logging.WARNING, logger=fast.__name__):
        y, _ = model(x)
        model(x)
    assert [r.getMessage() for r in caplog.records] == [
        "neuralfx: fast CPU GRU kernels unavailable (RuntimeError: no LLVM today); using PyTorch's"
    ]
    torch.testing.assert_close(y, model.dense(model.gru(x)[0]))


def test_first_use_leaves_torch_rng_alone(monkeypatch):
    """The warm-up compile builds a layer; a seeded run must draw the same numbers."""
    monkeypatch.setattr(fast, "_loaded", {})
    rnn = nn.LSTM(1, 8, batch_first=True)
    before = torch.random.get_rng_state()
    assert fast.fast_path(rnn, torch.zeros(1, 4, 1))
    assert torch.equal(torch.random.get_rng_state(), before)


def test_nan_input_gives_nan_output():
    """fastmath without nnan: a diverged run must show NaN so the trainer skips the step."""
    for cell in CELLS.values():
        rnn = cell(1, 8, batch_first=True)
        x = torch.randn(1, 6, 1)
        x[0, 2] = float("nan")
        y, _ = fast.recurrent_forward(rnn, x, None)
        assert torch.isfinite(y[0, :2]).all() and torch.isnan(y[0, 2:]).all()


def test_kernels_release_the_gil_and_spawn_no_threads():
    """Batch shards run the kernels in threads, one core each (train.py, _shard_count): while
    one runs, Python in another thread goes on (with the GIL held it could not, not once)."""
    for kernel in (
        kernels.gru_forward,
        kernels.gru_backward,
        kernels.lstm_forward,
        kernels.lstm_backward,
    ):
        assert not kernel.targetoptions.get("parallel")
    batch, steps, hid = 4, 40_000, 32
    args = (
        np.zeros((batch, steps, 1), np.float32),
        np.zeros((1, 3 * hid), np.float32),
        np.zeros(3 * hid, np.float32),
        np.zeros((hid, 3 * hid), np.float32),
        np.zeros(3 * hid, np.float32),
        np.zeros((batch, hid), np.float32),
        np.empty((batch, steps, hid), np.float32),
        np.empty((0, 0, 0, 0), np.float32),
        False,
    )
    kernels.gru_forward(
        *(a[:, :1] if isinstance(a, np.ndarray) and a.ndim == 3 else a for a in args)
    )
    done, ticks = threading.Event(), 0

    def render():
        kernels.gru_forward(*args)
        done.set()

    worker = threading.Thread(target=render)
    worker.start()
    while not done.is_set():
        ticks += 1
        time.sleep(0)
    worker.join()
    assert ticks > 20


def test_shards_in_threads_match_one_thread():
    torch.manual_seed(3)
    rnn = nn.GRU(1, 16, batch_first=True)
    xs = [torch.randn(2, 64, 1) for _ in range(2)]
    expected = [
        torch.autograd.grad(fast_layers.gru_forward(rnn, x, None)[0].sum(), list(rnn.parameters()))
        for x in xs
    ]
    got = [None, None]

    def shard(i):
        y, _ = fast.recurrent_forward(rnn, xs[i], None)
        got[i] = torch.autograd.grad(y.sum(), list(rnn.parameters()))

    threads = [threading.Thread(target=shard, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(got, expected, strict=True):
        for ga, gb in zip(a, b, strict=True):
            torch.testing.assert_close(ga, gb, atol=0, rtol=0)
