"""Golden model files (tests/golden/): a format change is caught even where no compiler runs.

The files were written by ``tests/golden/make_golden.py``; this loads each through the public
loader and renders the fixed probe, which must match the stored PyTorch output to 1e-6.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from neuralfx.export import load_model
from neuralfx.models.fast import set_kernels
from neuralfx.render import render_array

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
NAMES = sorted(p.stem for p in GOLDEN.glob("*.json"))


def test_every_golden_file_is_checked_in():
    assert NAMES == ["lab_gru16_skip", "lab_lstm8", "native_conv_lstm8_skip", "native_gru8x2"]


@pytest.fixture
def torch_path():
    """PyTorch's own recurrences, which wrote the expected outputs: 1e-6 then checks the file
    alone. The fused kernels are checked against PyTorch in tests/models/test_kernels.py."""
    before = set_kernels("torch")
    yield
    set_kernels(before)


@pytest.mark.parametrize("name", NAMES)
def test_golden_model_renders_its_expected_output(name, torch_path):
    model, meta = load_model(GOLDEN / f"{name}.json")
    assert meta["golden"] == name
    y = render_array(model, np.load(GOLDEN / "input.npy"), block_samples=1000)
    expected = np.load(GOLDEN / f"{name}.expected.npy")
    assert np.max(np.abs(expected)) > 0.3  # the probe drives the model well away from zero
    assert np.max(np.abs(y - expected)) < 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_golden_model_on_the_fused_kernels(name):
    model, _ = load_model(GOLDEN / f"{name}.json")
    y = render_array(model, np.load(GOLDEN / "input.npy"), block_samples=1000)
    assert np.max(np.abs(y - np.load(GOLDEN / f"{name}.expected.npy"))) < 1e-5


@pytest.mark.parametrize("name", NAMES)
def test_golden_files_keep_their_format(name):
    d = json.loads((GOLDEN / f"{name}.json").read_text())
    if name.startswith("lab"):
        cell = "gru" if "gru" in name else "lstm"
        assert f"{cell}.weight_ih_l0" in d and "dense.weight" in d
    else:
        assert d["in_shape"] == [None, None, 1] and d["layers"][-1]["type"] == "dense"
