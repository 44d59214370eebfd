"""Every bad input gives one clear line on stderr, exit code 2, and leaves the inputs alone."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from utils import FAST_FLAGS, make_pair, noise, tree_digest

from neuralfx.audio import write_wav
from neuralfx.cli import main
from neuralfx.config import ModelConfig
from neuralfx.data import load_dataset
from neuralfx.export import load_model
from neuralfx.losses import esr
from neuralfx.render import render_array

FAST = [
    *FAST_FLAGS,
    "--batch-size",
    "8",
    "--max-epochs",
    "1",
    "--threads",
    "1",
]


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    return code, err


def expect_error(capsys, root: Path, *fragments: str, argv=None):
    before = tree_digest(root) if root.exists() else {}
    code, err = run_cli(capsys, *(argv or ["train", root, *FAST]))
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err
    if root.exists():
        after = tree_digest(root)
        assert {k: v for k, v in after.items() if k in before} == before
    return err


def test_missing_folder(tmp_path, capsys):
    expect_error(capsys, tmp_path / "nope", "nope", "neuralfx init")


def test_empty_input_folder(tmp_path, capsys):
    (tmp_path / "d" / "input").mkdir(parents=True)
    write_wav(tmp_path / "d" / "output" / "a.wav", noise(2))
    expect_error(capsys, tmp_path / "d", "input", "no .wav")


def test_missing_output_folder(tmp_path, capsys):
    write_wav(tmp_path / "d" / "input" / "a.wav", noise(2))
    expect_error(capsys, tmp_path / "d", "output", "missing")


def test_unpaired_files(tmp_path, capsys):
    d = tmp_path / "d"
    make_pair(d, noise(2), noise(2), "a")
    write_wav(d / "input" / "b.wav", noise(2))
    write_wav(d / "output" / "c.wav", noise(2))
    expect_error(capsys, d, "b.wav", "same name")


def test_one_input_several_outputs_asks_which(tmp_path, capsys):
    d = make_pair(tmp_path / "d", noise(2), noise(2), "a")
    write_wav(d / "output" / "b.wav", noise(2))
    expect_error(capsys, d, "--output")


def test_non_wav_file(tmp_path, capsys):
    d = make_pair(tmp_path / "d", noise(2), noise(2))
    (d / "input" / "take.mp3").write_bytes(b"ID3 not audio")
    expect_error(capsys, d, "take.mp3", "not a .wav")


def test_corrupt_wav(tmp_path, capsys):
    d = make_pair(tmp_path / "d", noise(2), noise(2))
    (d / "output" / "fx.wav").write_bytes(b"RIFF\x00\x00garbage" * 10)
    expect_error(capsys, d, "fx.wav", "not a readable wav")


def test_truncated_wav(tmp_path, capsys):
    d = make_pair(tmp_path / "d", noise(6), noise(6))
    p = d / "output" / "fx.wav"
    p.write_bytes(p.read_bytes()[:2000])  # header says 6 s, data holds a few ms
    err = expect_error(capsys, d, "fx.wav")
    assert "truncated" in err or "differ" in err or "too short" in err


def test_wrong_sample_rate(tmp_path, capsys):
    d = make_pair(tmp_path / "d", noise(2), noise(2))
    write_wav(d / "output" / "fx.wav", noise(2), sample_rate_hz=48000)
    expect_error(capsys, d, "fx.wav", "48000", "44100", "resample")


def test_lengths_that_differ(tmp_path, capsys):
    d = make_pair(tmp_path / "d", noise(4), noise(2))
    expect_error(capsys, d, "fx.wav", "differ")


def test_small_length_difference_is_trimmed(tmp_path, capsys):
    x = noise(4)
    d = make_pair(tmp_path / "d", x, 0.5 * x[:-100])
    code, err = run_cli(capsys, "train", d, *FAST)
    assert code == 0, err
    data = load_dataset(d)
    assert data.report.pairs[0].trimmed_samples == 100
    s = data.split
    assert len(s.train_x) + len(s.val_x) + len(s.test_x) == len(x) - 100


def test_silent_output(tmp_path, capsys):
    d = make_pair(tmp_path / "d", noise(2), np.zeros(88200, np.float32))
    expect_error(capsys, d, "fx.wav", "silent")


def test_nan_samples(tmp_path, capsys):
    d = make_pair(tmp_path / "d", noise(2), noise(2))
    y = noise(2)
    y[1234] = np.nan
    sf.write(d / "output" / "fx.wav", y, 44100, subtype="FLOAT")
    expect_error(capsys, d, "fx.wav", "NaN", "1234")


def test_too_short_for_one_segment(tmp_path, capsys):
    d = make_pair(tmp_path / "d", noise(0.05), noise(0.05))
    expect_error(capsys, d, "too short")


def test_stereo_uses_first_channel(tmp_path, capsys):
    x = noise(4)
    d = tmp_path / "d"
    (d / "input").mkdir(parents=True)
    (d / "output").mkdir()
    sf.write(d / "input" / "fx.wav", np.stack([x, -x], 1), 44100, subtype="FLOAT")
    sf.write(d / "output" / "fx.wav", np.stack([0.5 * x, x], 1), 44100, subtype="FLOAT")
    code, err = run_cli(capsys, "train", d, *FAST, "--max-epochs", "3")
    assert code == 0, err
    assert "only the first channel is used" in err
    # first channels: y = 0.5 x; second channels: -x -> x, a gain of -2. A model trained on
    # the second would answer -2 x to x, an ESR of 25 against 0.5 x.
    model, _ = load_model(d / "model.json")
    assert esr(0.5 * x, render_array(model, x)) < 0.5


@pytest.mark.parametrize("content", ['{"hello": 1}', '{"lstm.weight_ih_l0": [[0.1]', "[1, 2]", ""])
def test_model_json_not_ours_or_truncated(tmp_path, capsys, content):
    model = tmp_path / "model.json"
    model.write_text(content)
    wav = tmp_path / "in.wav"
    write_wav(wav, noise(0.5))
    before = tree_digest(tmp_path)
    code, err = run_cli(capsys, "render", model, wav, tmp_path / "out.wav")
    assert code == 2 and len(err.splitlines()) == 1 and "model.json" in err, err
    assert tree_digest(tmp_path) == before


def test_render_refuses_to_overwrite_its_input(tmp_path, capsys):
    from neuralfx.export import save_model
    from neuralfx.models import build_model

    save_model(build_model(ModelConfig("lstm", 8)), tmp_path / "m.json", {"sample_rate_hz": 44100})
    wav = tmp_path / "in.wav"
    write_wav(wav, noise(0.5))
    before = wav.read_bytes()
    code, err = run_cli(capsys, "render", tmp_path / "m.json", wav, wav)
    assert code == 2 and wav.read_bytes() == before


def test_resume_of_unknown_run(gain_data, capsys):
    expect_error(capsys, gain_data, "no such run", argv=["train", gain_data, "--resume", "zzz"])


def test_strict_config_file(tmp_path, gain_data, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"batch_sise": 3}))
    expect_error(capsys, gain_data, "batch_sise", argv=["train", gain_data, "--config", cfg])


def test_train_warns_of_a_lag_and_refuses_a_lead_unless_aligned(tmp_path, capsys):
    x = noise(12)
    y = np.concatenate([np.zeros(300, np.float32), np.tanh(2 * x[:-300])])
    d = make_pair(tmp_path / "d", x, y)
    code, err = run_cli(capsys, "train", d, *FAST)
    assert code == 0 and "warning:" in err and "lags its input by 300 samples" in err
    lead = make_pair(tmp_path / "lead", y, x)
    expect_error(capsys, lead, "leads its input by 300 samples", "--align")
    code, err = run_cli(capsys, "train", d, *FAST, "--align")
    assert code == 0, err
    code, err = run_cli(capsys, "train", d, *FAST, "--latency", "300")
    assert code == 0, err
