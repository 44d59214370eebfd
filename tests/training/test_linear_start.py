"""A pair that is a linear filter is set into the LSTM and not trained; anything else trains."""

import csv
import json
import math

import numpy as np
import pytest
import torch
from scipy.signal import butter, lfilter
from utils import RATE, fast_config, make_pair, noise

import neuralfx
from neuralfx.dsp.levels import esr
from neuralfx.dsp.linear import fit_linear
from neuralfx.models.recurrent import RecurrentModel, start_as_filter
from neuralfx.training.display import score_text

HIGHPASS = butter(2, 300, "highpass", fs=RATE)


def highpass(v):
    return lfilter(*HIGHPASS, v).astype(np.float32)


@pytest.fixture
def highpass_data(tmp_path):
    x = noise(8.0)
    return make_pair(tmp_path / "hp", x, highpass(x))


def model_out(model, x):
    with torch.no_grad():
        return model(torch.from_numpy(x)[None, :, None])[0][0, :, 0].numpy()


def test_an_lstm_set_to_a_system_runs_it_and_its_spare_units_can_still_learn():
    x = noise(1.0, seed=3)
    system, _ = fit_linear(x, highpass(x), 30000, 8)
    model = RecurrentModel(hidden_size=8)
    peak = float(np.max(np.abs(system.states(x))))
    start_as_filter(model, system.a, system.b, system.c, peak)
    fresh = noise(0.5, seed=4)  # the scipy filter is the independent reference
    assert esr(highpass(fresh), model_out(model, fresh)) < 1e-5
    spare = model.rnn.weight_hh_l0[2 * 8 + system.order : 3 * 8]
    assert spare.abs().sum() > 0, "units past the order keep their random start"
    with pytest.raises(ValueError, match="one-layer LSTM"):
        start_as_filter(RecurrentModel(cell="gru", hidden_size=8), system.a, system.b, system.c, 1)


def test_a_filter_pair_is_set_not_trained_and_the_file_is_the_filter(highpass_data, capsys):
    cfg = fast_config(highpass_data, linear_start="auto", quiet=True, max_epochs=50)
    result = neuralfx.train(cfg)
    assert result.stopped_by == "linear" and result.epochs == 1 and result.test_esr < 1e-5
    out = "".join(capsys.readouterr())
    assert "the pair is a linear filter" in out and "stopped by the linear start" in out
    with open(result.run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and math.isnan(float(rows[0]["train_loss"]))
    meta = json.loads((highpass_data / "model.json").read_text())["neuralfx"]
    assert meta["epoch"] == 0 and meta["test_esr"] < 1e-5
    model, _ = neuralfx.load_model(highpass_data / "model.json")
    fresh = noise(0.5, seed=5)
    assert esr(highpass(fresh), model_out(model, fresh)) < 1e-5
    again = neuralfx.train(cfg.with_overrides(max_epochs=60), resume=True)
    assert again.stopped_by == "linear" and again.epochs == 1, "a resume does not train it"


def test_a_clipper_trains_from_pytorchs_start(tmp_path):
    x = noise(6.0)
    data = make_pair(tmp_path / "clip", x, np.tanh(4 * x))
    result = neuralfx.train(fast_config(data, linear_start="auto", max_epochs=2))
    assert result.stopped_by == "max_epochs" and result.epochs == 2


def test_off_trains_a_filter_pair_and_so_does_a_gru(highpass_data):
    off = neuralfx.train(fast_config(highpass_data, max_epochs=2, run_name="off"))
    assert off.stopped_by == "max_epochs"
    gru = fast_config(highpass_data, linear_start="auto", max_epochs=2, run_name="gru")
    gru = gru.with_overrides(model=gru.model.__class__(name="gru", hidden_size=8))
    assert neuralfx.train(gru).stopped_by == "max_epochs"


def test_scores_read_at_any_size():
    assert score_text(0.01234) == "0.01234"
    assert score_text(1.2e-7) == "1.20e-07"
    assert score_text(float("nan")) == "-"
    assert score_text(0.0) == "0.00000"
