"""Knob models through real RTNeural: `neuralfx-process --knob` (native files on parseJson,
aidax files on a 2- or 3-input ModelT) and `aidax-param1` (a one-knob AIDA-X file on the
plugin's own path) against `neuralfx render --knob` on the same file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from test_cpp import run_cpp
from utils import metadata, random_model

from neuralfx.cli import main
from neuralfx.export import save_model

# tests/utils.py KNOBS: drive_db 0..24 dB, tone -5..5
SETTINGS = {"drive_db": "17.5", "tone": "-2"}

CASES = [
    ("native", "conv-lstm", 8, 2, False, {}),
    ("native", "gru", 16, 1, True, {}),
    ("aidax", "lstm", 16, 1, True, {"input_gain_db": -3.0, "output_gain_db": 1.5}),
    ("aidax", "gru", 12, 2, False, {}),
]


def knob_flags(n_knobs: int) -> list[str]:
    return [a for k, v in list(SETTINGS.items())[:n_knobs] for a in ("--knob", f"{k}={v}")]


def render_py(path, wav, out, n_knobs) -> np.ndarray:
    assert main(["render", str(path), str(wav), str(out), *knob_flags(n_knobs)]) == 0
    return sf.read(out, dtype="float32")[0]


@pytest.mark.parametrize("fmt,name,hidden,n_knobs,skip,options", CASES)
def test_neuralfx_process_plays_knob_models_like_render(
    neuralfx_process, input_wav, tmp_path, fmt, name, hidden, n_knobs, skip, options
):
    model = random_model(name, hidden, 1, skip, seed=hidden, knobs=n_knobs)
    meta = metadata(name, hidden, 1, skip, knobs=n_knobs)
    path = save_model(model, tmp_path / "m.json", meta, fmt, **options)
    ours = render_py(path, input_wav, tmp_path / "py.wav", n_knobs)
    r = run_cpp(neuralfx_process, *knob_flags(n_knobs), path, input_wav, tmp_path / "cpp.wav")
    assert r.returncode == 0, r.stderr
    rtneural = sf.read(tmp_path / "cpp.wav", dtype="float32")[0]
    assert np.abs(ours - rtneural).max() < 1e-5
    # another setting sounds different, in both
    other = {"drive_db": "2", "tone": "4.5"}
    flags = [a for k, v in list(other.items())[:n_knobs] for a in ("--knob", f"{k}={v}")]
    r = run_cpp(neuralfx_process, *flags, path, input_wav, tmp_path / "cpp2.wav")
    assert np.abs(sf.read(tmp_path / "cpp2.wav", dtype="float32")[0] - rtneural).max() > 1e-2


def test_aidax_param1_the_plugins_path_matches_render(neuralfx_process, input_wav, tmp_path):
    """AIDA-X's own way: ModelT<float, 2, 1, LSTMLayerT<float, 2, 16>, ...>::parseJson, the
    knob's 0..1 value as the second input of every sample."""
    exe = neuralfx_process.parent / "aidax-param1"
    for name, skip in (("lstm", True), ("gru", False)):
        model = random_model(name, 16, 1, skip, seed=7, knobs=1)
        path = save_model(
            model, tmp_path / f"{name}.json", metadata(name, 16, 1, skip, knobs=1), "aidax"
        )
        ours = render_py(path, input_wav, tmp_path / "py.wav", 1)
        param1 = float(SETTINGS["drive_db"]) / 24.0
        r = run_cpp(exe, path, input_wav, tmp_path / "plugin.wav", f"{param1:.9g}")
        assert r.returncode == 0, r.stderr
        plugin = sf.read(tmp_path / "plugin.wav", dtype="float32")[0]
        assert np.abs(ours - plugin).max() < 1e-5
    r = run_cpp(exe, path, input_wav, tmp_path / "x.wav", "1.5")
    assert r.returncode == 2 and "0 to 1" in r.stderr


def test_a_foreign_two_input_file_takes_param1(neuralfx_process, input_wav, tmp_path):
    d = json.loads(
        save_model(
            random_model("gru", 8, seed=2, knobs=1),
            tmp_path / "s.json",
            metadata("gru", 8, knobs=1),
            "aidax",
        ).read_text()
    )
    del d["neuralfx"]  # as another trainer writes it: in_shape [null, null, 2], no names
    path = tmp_path / "theirs.json"
    path.write_text(json.dumps(d))
    assert (
        main(
            ["render", str(path), str(input_wav), str(tmp_path / "py.wav"), "--knob", "param1=0.3"]
        )
        == 0
    )
    r = run_cpp(neuralfx_process, "--knob", "param1=0.3", path, input_wav, tmp_path / "cpp.wav")
    assert r.returncode == 0, r.stderr
    a = sf.read(tmp_path / "py.wav", dtype="float32")[0]
    assert np.abs(a - sf.read(tmp_path / "cpp.wav", dtype="float32")[0]).max() < 1e-5


BAD = [
    (["--knob", "drive_db=30", "--knob", "tone=0"], "outside its range drive_db 0..24 dB"),
    (["--knob", "drive_db=nan", "--knob", "tone=0"], "not a number"),
    (["--knob", "drive_db=", "--knob", "tone=0"], "not a number"),
    (["--knob", "drive_db", "--knob", "tone=0"], "write NAME=VALUE"),
    (
        ["--knob", "gain=1", "--knob", "tone=0"],
        "no such knob; its knobs are drive_db 0..24 dB, tone -5..5",
    ),
    (["--knob", "tone=0"], "knob drive_db is not set"),
    (["--knob", "tone=0", "--knob", "tone=1"], "set twice"),
]


@pytest.mark.parametrize("flags,words", BAD)
def test_bad_knobs_are_one_line_in_cpp(neuralfx_process, input_wav, tmp_path, flags, words):
    path = save_model(
        random_model("lstm", 8, knobs=2), tmp_path / "m.json", metadata("lstm", 8, knobs=2)
    )
    r = run_cpp(neuralfx_process, *flags, path, input_wav, tmp_path / "o.wav")
    line = r.stderr.strip()
    assert r.returncode == 2 and "\n" not in line and words in line, line
    assert not (tmp_path / "o.wav").exists()


def test_a_knob_for_a_plain_model_is_refused_in_cpp(neuralfx_process, input_wav, tmp_path):
    path = save_model(random_model("lstm", 8), tmp_path / "m.json", metadata("lstm", 8), "native")
    r = run_cpp(neuralfx_process, "--knob", "gain=1", path, input_wav, tmp_path / "o.wav")
    assert r.returncode == 2 and "has no knob inputs" in r.stderr
