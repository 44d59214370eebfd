"""The built-in dataset: `neuralfx init` makes the lab's layout, and a short run learns from it."""

import json

import numpy as np
import pytest
from utils import audio_digest, fast_config, tree_digest

import neuralfx
from neuralfx.cli import main
from neuralfx.data import load_dataset
from neuralfx.data.builtin import init_dataset
from neuralfx.losses import esr


@pytest.fixture(scope="module")
def lowpass_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "lp"
    init_dataset(root, "lowpass", duration_s=12.0)
    return root


def test_init_makes_the_lab_layout(lowpass_data):
    assert (lowpass_data / "input" / "clean_signal.wav").is_file()
    assert (lowpass_data / "output" / "lowpass.wav").is_file()
    assert (lowpass_data / "guitar.wav").is_file()
    spec = json.loads((lowpass_data / "output" / "lowpass.json").read_text())
    # the one sidecar schema, as `data make` writes it
    assert spec["effect"]["spec"].startswith("lowpass(") and spec["effect"]["chain"][0] == {
        "effect": "lowpass",
        "cutoff_hz": 1000.0,
        "q": 0.7071,
    }
    assert spec["seed"] == 0 and spec["sources"][0]["input"] == "input/clean_signal.wav"


def test_init_is_deterministic_and_refuses_to_overwrite(lowpass_data, tmp_path, capsys):
    other = tmp_path / "lp"
    init_dataset(other, "lowpass", duration_s=12.0)
    assert audio_digest(other) == audio_digest(lowpass_data)
    before = tree_digest(other)
    assert main(["init", str(other), "--effect", "lowpass", "--duration", "12"]) == 2
    assert "--force" in capsys.readouterr().err
    assert tree_digest(other) == before


def test_init_adds_a_second_effect_and_train_asks_which(lowpass_data, tmp_path, capsys):
    d = tmp_path / "two"
    init_dataset(d, "lowpass", duration_s=12.0)
    clean = (d / "input" / "clean_signal.wav").read_bytes()
    assert main(["init", str(d), "--effect", "hardclip(drive_db=12)", "--name", "hc"]) == 0
    assert (d / "input" / "clean_signal.wav").read_bytes() == clean  # inputs are never rewritten
    assert main(["train", str(d), "--quiet", "--max-epochs", "1"]) == 2
    assert "--output" in capsys.readouterr().err


def test_short_run_on_lowpass_beats_the_identity(lowpass_data):
    r = neuralfx.train(fast_config(lowpass_data, max_epochs=6, learning_rate=1e-2, run_name="id"))
    split = load_dataset(lowpass_data).split
    identity = esr(split.test_y, split.test_x)
    assert np.isfinite(r.test_esr) and r.test_esr < 0.5 * identity, (r.test_esr, identity)
