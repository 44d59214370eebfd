import json

import pytest

from neuralfx import config
from neuralfx.config import LossConfig, ModelConfig, TrainConfig
from neuralfx.errors import ConfigError


def test_round_trip_through_json(tmp_path):
    cfg = TrainConfig(
        data_dir="d",
        model=ModelConfig("gru", 16, 2, True),
        loss=LossConfig(1.0, 0.0, 0.9),
        split=(0.7, 0.2, 0.1),
        budget_s=12.5,
        seed=3,
    )
    p = tmp_path / "config.json"
    p.write_text(config.to_json(cfg))
    assert config.load_config(p) == cfg


@pytest.mark.parametrize(
    "data, fragment",
    [
        ({"batch_sise": 3}, "batch_sise"),
        ({"model": {"hiden_size": 3}}, "hiden_size"),
        ({"batch_size": "big"}, "batch_size"),
        ({"batch_size": 3.5}, "batch_size"),
        ({"model": {"skip": 1}}, "skip"),
        ({"split": [0.5, 0.5]}, "split"),
        ({"model": 3}, "model"),
    ],
)
def test_strict_loading_names_the_key(tmp_path, data, fragment):
    p = tmp_path / "c.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=fragment):
        config.load_config(p)


def test_run_config_reproduces_the_run(gain_data):
    from utils import fast_config

    import neuralfx

    a = neuralfx.train(fast_config(gain_data, max_epochs=2, run_name="a"))
    cfg = config.load_config(a.run_dir / "config.json")
    b = neuralfx.train(cfg.with_overrides(run_name="b"))
    assert b.test_esr == pytest.approx(a.test_esr, rel=1e-5)
