"""The model registry: what it builds, what it refuses, and how state carries across calls."""

import pytest
import torch

from neuralfx.config import ModelConfig
from neuralfx.errors import ConfigError
from neuralfx.models import REGISTRY, build_model, count_parameters


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_registry_model_streams_like_one_call(name):
    """Two calls with the state carried give exactly one call's output: what TBPTT and the
    block renderer rely on."""
    torch.manual_seed(0)
    model = build_model(ModelConfig(name, 8, 2, skip=True)).eval()
    x = torch.randn(2, 300, 1)
    with torch.no_grad():
        whole, _ = model(x)
        first, state = model(x[:, :123])
        second, _ = model(x[:, 123:], state)
    assert torch.allclose(torch.cat([first, second], 1), whole, atol=1e-6)


def test_skip_adds_the_input_and_the_lab_keys_are_kept():
    model = build_model(ModelConfig("lstm", 8, skip=True))
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    x = torch.randn(1, 50, 1)
    assert torch.equal(model(x)[0], x)
    assert {"lstm.weight_ih_l0", "lstm.weight_hh_l0", "dense.weight", "dense.bias"} <= set(
        model.state_dict()
    )


def test_parameter_counts_follow_the_cell_equations():
    h = 16
    lstm = count_parameters(build_model(ModelConfig("lstm", h)))
    gru = count_parameters(build_model(ModelConfig("gru", h)))
    assert lstm == 4 * (h * 1 + h * h + 2 * h) + h + 1
    assert gru == 3 * (h * 1 + h * h + 2 * h) + h + 1


@pytest.mark.parametrize(
    "kw, words",
    [
        ({"name": "transformer"}, "unknown model 'transformer'"),
        ({"hidden_size": 33}, "hidden size 33"),
    ],
)
def test_models_rtneural_cannot_run_are_refused(kw, words):
    with pytest.raises(ConfigError, match=words):
        build_model(ModelConfig(**kw))


def test_layer_and_conv_sizes_are_checked_in_the_config():
    with pytest.raises(ConfigError, match=r"num_layers \(--layers\) = 4"):
        ModelConfig(num_layers=4)
    with pytest.raises(ConfigError, match="conv_kernel = 1"):
        ModelConfig(conv_kernel=1)
