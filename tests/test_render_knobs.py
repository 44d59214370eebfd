"""neuralfx render --knob: constant and swept knobs in their own units, streamed block by block,
against the model run directly on inputs built here; bad values are one-line errors that leave
no output."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
from utils import RATE, metadata, random_model, sine_and_noise

from neuralfx.cli import main
from neuralfx.errors import AudioError, ConfigError
from neuralfx.export import save_model
from neuralfx.render import render_file, with_knobs


@pytest.fixture
def knob_model(tmp_path):
    """drive_db 0..24 dB and tone -5..5 (tests/utils.py KNOBS), and a 0.3 s input wav."""
    model = random_model("lstm", 8, knobs=2, seed=4)
    path = save_model(model, tmp_path / "m.json", metadata("lstm", 8, knobs=2))
    wav = tmp_path / "in.wav"
    sf.write(wav, sine_and_noise(0.3, seed=6), RATE, subtype="FLOAT")
    return model, path, wav


@torch.inference_mode()
def direct(model, x: np.ndarray, drive_db: np.ndarray, tone: np.ndarray) -> np.ndarray:
    """The model over the whole file at once, knobs scaled by hand: (v - lo) / (hi - lo)."""
    cols = np.stack([drive_db / 24.0, (tone + 5.0) / 10.0], 1)
    y, _ = model(torch.from_numpy(with_knobs(x, cols))[None])
    return y.view(-1).numpy()


def test_constant_and_swept_knobs_match_the_model(knob_model, tmp_path):
    model, path, wav = knob_model
    x, _ = sf.read(wav, dtype="float32")
    n = len(x)
    out = tmp_path / "o.wav"
    render_file(path, wav, out, block_samples=1000, knobs={"drive_db": 6.0, "tone": -2.5})
    const = sf.read(out, dtype="float32")[0]
    want = direct(model, x, np.full(n, 6.0), np.full(n, -2.5))
    assert np.abs(const - want).max() < 1e-5
    render_file(path, wav, out, block_samples=1000, knobs={"drive_db": (0.0, 24.0), "tone": 5.0})
    swept = sf.read(out, dtype="float32")[0]
    want = direct(model, x, np.linspace(0.0, 24.0, n), np.full(n, 5.0))
    assert np.abs(swept - want).max() < 1e-5
    # the sweep is heard: its start plays like drive 0 and its end like drive 24
    ends = {v: direct(model, x, np.full(n, v), np.full(n, 5.0)) for v in (0.0, 24.0)}
    assert np.abs(swept[:200] - ends[0.0][:200]).max() < 0.05
    assert np.abs(swept[:200] - ends[24.0][:200]).max() > 0.05


def test_the_cli_takes_knobs_in_their_units(knob_model, tmp_path):
    model, path, wav = knob_model
    out = tmp_path / "o.wav"
    argv = ["render", str(path), str(wav), str(out), "--knob", "tone=1:-1", "--knob", "drive_db=12"]
    assert main(argv) == 0
    x, _ = sf.read(wav, dtype="float32")
    want = direct(model, x, np.full(len(x), 12.0), np.linspace(1.0, -1.0, len(x)))
    assert np.abs(sf.read(out, dtype="float32")[0] - want).max() < 1e-5


def test_resample_renders_a_knob_model(knob_model, tmp_path):
    from neuralfx.audio import resample

    model, path, _ = knob_model
    x48 = resample(sine_and_noise(0.2), RATE, 48000)
    sf.write(tmp_path / "in48.wav", x48, 48000, subtype="FLOAT")
    render_file(
        path,
        tmp_path / "in48.wav",
        tmp_path / "o.wav",
        resample=True,
        knobs={"drive_db": 3, "tone": 0},
    )
    x = resample(x48, 48000, RATE)
    want = resample(direct(model, x, np.full(len(x), 3.0), np.zeros(len(x))), RATE, 48000)
    assert np.abs(sf.read(tmp_path / "o.wav", dtype="float32")[0] - want[: len(x48)]).max() < 1e-4


BAD = [
    (["drive_db=30", "tone=0"], "--knob drive_db=30: outside its range drive_db 0..24 dB"),
    (["drive_db=-1:4", "tone=0"], "drive_db=-1: outside its range"),
    (["drive_db=nan", "tone=0"], "drive_db=nan: not a finite number; pick a value inside"),
    (["drive_db=inf", "tone=0"], "drive_db=inf: not a finite number"),
    (["drive_db=loud", "tone=0"], "write name=value or name=start:end"),
    (["drive_db", "tone=0"], "write name=value or name=start:end"),
    (["drive_db=1:2:3", "tone=0"], "write name=value or name=start:end"),
    (["=3", "tone=0"], "write name=value"),
    (["drive_db=3", "drive_db=4", "tone=0"], "drive_db is set twice"),
    (["gain=3", "tone=0"], "no such knob; its knobs are drive_db 0..24 dB, tone -5..5"),
    (["tone=0"], "knob drive_db is not set; set every knob with --knob NAME=VALUE"),
    ([], "knob drive_db is not set"),
]


@pytest.mark.parametrize("flags,words", BAD)
def test_bad_knobs_are_one_line_errors_and_write_nothing(
    knob_model, tmp_path, capsys, flags, words
):
    _, path, wav = knob_model
    out = tmp_path / "o.wav"
    argv = ["render", str(path), str(wav), str(out)]
    for f in flags:
        argv += ["--knob", f]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and words in err, err
    assert not out.exists() and not list(tmp_path.glob(".o.wav.*"))


def test_a_knob_for_a_model_without_knobs_is_refused(tmp_path, capsys):
    path = save_model(random_model("gru", 8), tmp_path / "m.json", metadata("gru", 8))
    sf.write(tmp_path / "in.wav", sine_and_noise(0.05), RATE, subtype="FLOAT")
    argv = ["render", str(path), str(tmp_path / "in.wav"), str(tmp_path / "o.wav")]
    assert main([*argv, "--knob", "gain=1"]) == 2
    assert "has no knob inputs; drop --knob" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="no knob inputs"):
        render_file(path, tmp_path / "in.wav", tmp_path / "o.wav", knobs={"gain": 1.0})
    assert not (tmp_path / "o.wav").exists()


def test_a_render_failing_midway_leaves_no_half_file(knob_model, tmp_path):
    _, path, _ = knob_model
    x = sine_and_noise(0.2)
    x[6000] = np.nan  # in the second block of 4096
    sf.write(tmp_path / "bad.wav", x, RATE, subtype="FLOAT")
    out = tmp_path / "o.wav"
    out.write_bytes(b"an older render")
    with pytest.raises(AudioError, match="NaN"):
        render_file(
            path, tmp_path / "bad.wav", out, block_samples=4096, knobs={"drive_db": 1, "tone": 0}
        )
    assert out.read_bytes() == b"an older render" and not list(tmp_path.glob(".o.wav.*"))
