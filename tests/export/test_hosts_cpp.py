"""Other hosts' files through real RTNeural (cpp/) against `neuralfx render`: AIDA-X files the
way AIDA-X loads them (cpp/aidax_model.h: compile-time ModelT of the file's hidden size,
ModelT::parseJson, in_skip, in_gain/out_gain, 2048 samples of silence on load), and foreign
RTNeural JSON on parseJson."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from engines import aidax_forward
from test_cpp import run_cpp
from test_foreign import every_layer, gru_1d
from utils import metadata, random_model

from neuralfx.export import save_model
from neuralfx.render import render_file

CASES = [
    ("lstm", 8, False, None, None),
    ("gru", 12, True, None, None),
    ("lstm", 20, True, -6.0, 2.5),
    ("gru", 80, False, 3.0, -4.0),
    ("lstm", 80, True, 0.0, -1.0),
]


def _render_both(exe, model_path, wav, tmp_path):
    ours = render_file(model_path, wav, tmp_path / "py.wav")
    r = run_cpp(exe, model_path, wav, tmp_path / "cpp.wav")
    assert r.returncode == 0, r.stderr
    a, _ = sf.read(ours, dtype="float32")
    b, _ = sf.read(tmp_path / "cpp.wav", dtype="float32")
    return a, b


@pytest.mark.parametrize("name,hidden,skip,in_db,out_db", CASES)
def test_rtneural_plays_aidax_files_like_render(
    neuralfx_process, input_wav, tmp_path, name, hidden, skip, in_db, out_db
):
    model = random_model(name, hidden, 1, skip, seed=hidden)
    path = save_model(
        model,
        tmp_path / "m.aidax.json",
        metadata(name, hidden, 1, skip),
        "aidax",
        input_gain_db=in_db,
        output_gain_db=out_db,
    )
    ours, rtneural = _render_both(neuralfx_process, path, input_wav, tmp_path)
    assert np.abs(ours - rtneural).max() < 1e-5
    x, _ = sf.read(input_wav, dtype="float32")
    engine = aidax_forward(json.loads(path.read_text()), x[:3000])
    assert np.abs(rtneural[:3000] - engine).max() < 1e-5


def test_a_foreign_aidax_file_is_recognised_by_its_keys(neuralfx_process, input_wav, tmp_path):
    d = save_model(
        random_model("gru", 16, 1, True, seed=2), tmp_path / "s.json", metadata("gru", 16), "aidax"
    )
    d = json.loads(d.read_text())
    del d["neuralfx"]  # as AidaDSP's trainer writes it: in_skip, metadata, no neuralfx key
    d["out_gain"] = -3.0
    path = tmp_path / "theirs.json"
    path.write_text(json.dumps(d))
    ours, rtneural = _render_both(neuralfx_process, path, input_wav, tmp_path)
    assert np.abs(ours - rtneural).max() < 1e-5


def test_aidax_refuses_a_size_it_does_not_compile(neuralfx_process, input_wav, tmp_path):
    d = save_model(random_model("lstm", 48), tmp_path / "n.json", metadata("lstm", 48), "native")
    d = json.loads(d.read_text())
    del d["neuralfx"]
    d["in_gain"] = 0.0
    path = tmp_path / "m.json"
    path.write_text(json.dumps(d))
    r = run_cpp(neuralfx_process, path, input_wav, tmp_path / "o.wav")
    assert r.returncode == 2 and "hidden size 48 is not one AIDA-X runs" in r.stderr


def test_native_in_skip_is_honoured_without_metadata(neuralfx_process, input_wav, tmp_path):
    model = random_model("lstm", 16, 2, True, seed=5)
    d = json.loads(
        save_model(model, tmp_path / "n.json", metadata("lstm", 16, 2, True), "native").read_text()
    )
    del d["neuralfx"]["skip"]
    path = tmp_path / "m.json"
    path.write_text(json.dumps(d))
    ours, rtneural = _render_both(neuralfx_process, path, input_wav, tmp_path)
    x, _ = sf.read(input_wav, dtype="float32")
    assert np.abs(ours - rtneural).max() < 1e-5
    assert np.abs(ours - x).max() > 0.1  # a real model, not the skip alone


@pytest.mark.parametrize("make", [gru_1d, every_layer])
def test_rtneural_plays_foreign_json_like_render(neuralfx_process, input_wav, tmp_path, make):
    path = tmp_path / "theirs.json"
    path.write_text(json.dumps(make()))
    ours, rtneural = _render_both(neuralfx_process, path, input_wav, tmp_path)
    assert np.abs(ours - rtneural).max() < 1e-5 and ours.std() > 0.01
