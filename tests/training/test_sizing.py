"""``--hidden 0`` (the default): LSTM-16 for short budgets, 32 otherwise; a number is kept."""

import dataclasses
import json

from utils import fast_config, make_pair, stepped_noise

import neuralfx
from neuralfx.config import ModelConfig, TrainConfig
from neuralfx.export import load_model
from neuralfx.models import DEFAULT_HIDDEN, build_model
from neuralfx.training.sizing import SHORT_BUDGET_S, SHORT_HIDDEN, resolve_hidden


def _hidden(budget_s: float, knobs: bool = False, **kw) -> int:
    cfg = TrainConfig(budget_s=budget_s, **kw)
    return resolve_hidden(cfg, knobs).model.hidden_size


def test_the_width_follows_the_budget_and_a_given_one_is_kept():
    assert TrainConfig().model.hidden_size == 0
    assert _hidden(20) == _hidden(SHORT_BUDGET_S) == SHORT_HIDDEN == 16
    assert _hidden(SHORT_BUDGET_S + 1) == _hidden(180) == _hidden(0) == DEFAULT_HIDDEN == 32
    assert _hidden(20, knobs=True) == 32  # measured only at 32
    assert _hidden(20, init_model="other.json") == 32  # the flags an --init file was made with
    given = TrainConfig(budget_s=20, model=ModelConfig(hidden_size=24))
    assert resolve_hidden(given, False) is given
    # outside a run, the default still builds the 32-unit model every consumer expects
    assert build_model(ModelConfig()).rnn.hidden_size == 32


def test_a_short_run_saves_the_width_it_trained(tmp_path):
    x = stepped_noise(6.0)
    data = make_pair(tmp_path / "clip", x, (x * 3).clip(-0.5, 0.5))
    base = fast_config(data, max_epochs=1)
    cfg = dataclasses.replace(base, budget_s=3, model=ModelConfig(hidden_size=0))
    r = neuralfx.train(cfg)
    assert json.loads((r.run_dir / "config.json").read_text())["model"]["hidden_size"] == 16
    model, _ = load_model(r.model_path)  # the exported file holds the 16-unit network
    assert model.rnn.hidden_size == 16
