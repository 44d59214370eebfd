"""Knob models in every format: native and aidax files hold 1 + N inputs and play like the model
(checked by the independent numpy readers), lab and nam refuse them, and a file's knob
metadata is checked on load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from engines import aidax_forward, rtneural_forward
from test_aidax import aidax_picks
from utils import KNOBS, fast_config, metadata, noise, random_model, run_blocks, sine_and_noise

import neuralfx
from neuralfx.audio import write_wav
from neuralfx.cli import main
from neuralfx.data.make import make_outputs
from neuralfx.errors import ExportError, ModelFileError
from neuralfx.export import export_model, load_model, save_model
from neuralfx.export.info import model_info
from neuralfx.models import RecurrentModel
from neuralfx.render import render_array, with_knobs


def knob_inputs(n_knobs: int, seconds: float = 0.03, seed: int = 3) -> np.ndarray:
    """Audio with each knob sweeping a different stretch of 0..1, so every input matters."""
    x = sine_and_noise(seconds, seed=seed)
    t = np.linspace(0.0, 1.0, len(x))
    cols = np.stack([0.1 + 0.8 * t[:: 1 if i % 2 == 0 else -1] for i in range(n_knobs)], 1)
    return with_knobs(x, cols)


@torch.inference_mode()
def torch_blocks(model, x: np.ndarray, block: int = 4096) -> np.ndarray:
    state, out = None, []
    for start in range(0, len(x), block):
        y, state = model(torch.from_numpy(x[start : start + block])[None], state)
        out.append(y.view(-1).numpy())
    return np.concatenate(out)


def knob_file(tmp_path, n_knobs, fmt="native", name="lstm", hidden=16, skip=False, **options):
    model = random_model(name, hidden, 1, skip, seed=hidden + n_knobs, knobs=n_knobs)
    meta = metadata(name, hidden, 1, skip, knobs=n_knobs)
    path = save_model(model, tmp_path / f"m.{fmt}.json", meta, fmt, **options)
    return model, path


@pytest.mark.parametrize("n_knobs", [1, 2, 3])
def test_native_holds_one_input_per_knob_and_plays_like_the_model(tmp_path, n_knobs):
    model, path = knob_file(tmp_path, n_knobs, name="conv-gru", hidden=8)
    d = json.loads(path.read_text())
    assert d["in_shape"] == [None, None, 1 + n_knobs]
    assert np.shape(d["layers"][0]["weights"][0])[1] == 1 + n_knobs  # conv kernel (K, in, out)
    assert d["neuralfx"]["knobs"] == list(KNOBS[:n_knobs])
    back, meta = load_model(path)
    assert isinstance(back, RecurrentModel) and back.knobs == n_knobs
    x = knob_inputs(n_knobs)
    want = torch_blocks(model, x)
    assert np.abs(rtneural_forward(d, x) - want).max() < 2e-5
    assert np.abs(render_array(back, x) - want).max() < 1e-6
    # the knobs change the sound: a model ignoring them would pass the lines above too
    flat = with_knobs(x[:, 0], np.full(n_knobs, 0.5, np.float32))
    assert np.abs(torch_blocks(model, flat) - want).max() > 1e-2


AIDAX_CASES = [
    (1, "lstm", 16, False, None, None),
    (2, "gru", 12, True, -4.0, 2.0),
    (2, "lstm", 8, True, None, -3.0),
]


@pytest.mark.parametrize("n_knobs,name,hidden,skip,in_db,out_db", AIDAX_CASES)
def test_aidax_knob_file_is_what_aidax_loads(tmp_path, n_knobs, name, hidden, skip, in_db, out_db):
    model, path = knob_file(
        tmp_path, n_knobs, "aidax", name, hidden, skip, input_gain_db=in_db, output_gain_db=out_db
    )
    d = json.loads(path.read_text())
    assert aidax_picks(d) and d["in_shape"] == [None, None, 1 + n_knobs]
    assert d.get("in_skip", 0) == int(skip)
    assert d["metadata"]["param1"].startswith("drive_db 0..24 dB")
    assert ("param2" in d["metadata"]) == (n_knobs == 2)
    assert d["neuralfx"]["knobs"] == list(KNOBS[:n_knobs])
    x = knob_inputs(n_knobs)
    engine = aidax_forward(d, x)
    # the model with AIDA-X's arithmetic: in_gain on the audio only, the silence at the knobs
    g_in, g_out = 10 ** ((in_db or 0) / 20), 10 ** ((out_db or 0) / 20)
    warm = np.vstack([np.tile([0.0, *x[0, 1:]], (2048, 1)), x]).astype(np.float32)
    warm[:, 0] *= np.float32(g_in)
    want = g_out * torch_blocks(model, warm)[2048:]
    assert np.abs(engine - want).max() < 2e-5
    back, meta = load_model(path)
    assert meta["format"] == "aidax" and meta["knobs"] == list(KNOBS[:n_knobs])
    assert np.abs(render_array(back, x) - engine).max() < 2e-5


def test_three_knobs_are_refused_by_aidax_naming_native(tmp_path, capsys):
    _, src = knob_file(tmp_path, 3)
    with pytest.raises(ExportError, match="3 knobs .*PARAM1 and PARAM2.*--format native"):
        export_model(src, "aidax")
    assert main(["export", str(src), "--format", "aidax"]) == 2
    assert "\n" not in capsys.readouterr().err.strip()
    assert not (tmp_path / "m.aidax.json").exists()


@pytest.mark.parametrize(
    "fmt,words",
    [
        (
            "lab",
            "the lab format has no knob inputs; this model takes 2 knob inputs: use --format native",
        ),
        ("nam", "NAM plugins have no knob inputs"),
    ],
)
def test_lab_and_nam_refuse_knob_models_in_one_line(tmp_path, capsys, fmt, words):
    _, src = knob_file(tmp_path, 2)
    assert main(["export", str(src), "--format", fmt, "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and words in err and str(src) in err
    assert not (tmp_path / "out").exists()


def test_export_between_native_and_aidax_keeps_the_knobs(tmp_path):
    model, src = knob_file(tmp_path, 2, hidden=16)
    aidax = export_model(src, "aidax", input_gain_db=-6.0, output_gain_db=4.0)
    native = export_model(aidax, "native", tmp_path / "back.json")
    back, meta = load_model(native)
    assert meta["knobs"] == list(KNOBS[:2]) and back.knobs == 2
    # the gains fold into the weights, in_gain into the audio column only
    x = knob_inputs(2)
    want = aidax_forward(json.loads(aidax.read_text()), x)
    warm = np.vstack([np.tile([0.0, *x[0, 1:]], (2048, 1)), x]).astype(np.float32)
    assert np.abs(render_array(back, warm)[2048:] - want).max() < 2e-5


@pytest.mark.parametrize("inputs", [2, 3])
def test_a_foreign_multi_input_file_gets_param_knobs(tmp_path, inputs):
    """An AIDA-X capture with knobs carries no names: PARAM1, PARAM2 over 0..1, as AIDA-X."""
    model, path = knob_file(tmp_path, inputs - 1, "aidax", "gru", 8)
    d = json.loads(path.read_text())
    del d["neuralfx"]
    foreign = tmp_path / "theirs.json"
    foreign.write_text(json.dumps(d))
    back, meta = load_model(foreign)
    names = [k["name"] for k in meta["knobs"]]
    assert names == ["param1", "param2"][: inputs - 1]
    assert all(k["lo"] == 0.0 and k["hi"] == 1.0 for k in meta["knobs"])
    x = knob_inputs(inputs - 1)
    assert np.abs(render_array(back, x) - aidax_forward(d, x)).max() < 2e-5
    assert "param1 0..1" in "\n".join(model_info(foreign))


BAD_KNOBS = {
    "not a list": ({"name": "drive"}, "not a list of at most 3"),
    "four": ([dict(KNOBS[0], name=f"k{i}") for i in range(4)], "not a list of at most 3"),
    "no name": ([{"unit": "", "lo": 0, "hi": 1}, KNOBS[1]], "knobs[0]"),
    "name not text": ([dict(KNOBS[0], name=3), KNOBS[1]], "knobs[0]"),
    "unit not text": ([KNOBS[0], dict(KNOBS[1], unit=None)], "knobs[1]"),
    "lo above hi": ([dict(KNOBS[0], lo=5.0, hi=1.0), KNOBS[1]], "lo < hi"),
    "lo is hi": ([dict(KNOBS[0], lo=1.0, hi=1.0), KNOBS[1]], "lo < hi"),
    "hi infinite": ([dict(KNOBS[0], hi=1e400), KNOBS[1]], "finite"),
    "hi text": ([dict(KNOBS[0], hi="10"), KNOBS[1]], "finite"),
    "bool lo": ([dict(KNOBS[0], lo=False), KNOBS[1]], "finite"),
    "twice": ([KNOBS[0], KNOBS[0]], "twice"),
    "too few": ([KNOBS[0]], "lists 1 knob but the model takes 2 knob inputs"),
    "too many": (list(KNOBS), "lists 3 knobs but the model takes 2"),
}


@pytest.mark.parametrize("case", list(BAD_KNOBS))
def test_crafted_knob_metadata_is_one_line(tmp_path, capsys, case):
    value, words = BAD_KNOBS[case]
    for fmt in ("native", "aidax"):
        _, path = knob_file(tmp_path, 2, fmt, hidden=8)
        d = json.loads(path.read_text())
        d["neuralfx"]["knobs"] = value
        path.write_text(json.dumps(d))
        with pytest.raises(ModelFileError, match="metadata") as err:
            load_model(path)
        assert words in str(err.value) and str(path) in str(err.value)
        assert main(["info", str(path)]) == 2
        assert "\n" not in capsys.readouterr().err.strip()


def test_a_one_input_model_with_knob_metadata_is_refused(tmp_path):
    path = save_model(random_model("lstm", 8), tmp_path / "m.json", metadata("lstm", 8))
    d = json.loads(path.read_text())
    d["neuralfx"]["knobs"] = [KNOBS[0]]
    path.write_text(json.dumps(d))
    with pytest.raises(ModelFileError, match="lists 1 knob but the model takes 0"):
        load_model(path)


@pytest.mark.parametrize(
    "key,value", [("holdout", "drive_db=16"), ("test_esr_by_setting", {"drive_db=0": "low"})]
)
def test_crafted_setting_records_are_one_line(tmp_path, key, value):
    _, path = knob_file(tmp_path, 1, hidden=8)
    d = json.loads(path.read_text())
    d["neuralfx"][key] = value
    path.write_text(json.dumps(d))
    with pytest.raises(ModelFileError, match=f"metadata {key}"):
        load_model(path)


def test_info_lists_knobs_held_out_settings_and_where_they_go(tmp_path, capsys):
    model = random_model("lstm", 16, knobs=2)
    meta = {
        **metadata("lstm", 16, knobs=2),
        "holdout": ["drive_db=16,tone=0"],
        "test_esr_by_setting": {"drive_db=0,tone=0": 0.0028, "drive_db=16,tone=0": 0.0191},
    }
    path = save_model(model, tmp_path / "model.json", meta)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "knobs:        2" in out
    assert "input 1      drive_db 0..24 dB" in out and "input 2      tone -5..5" in out
    assert "held out:     drive_db=16,tone=0" in out
    assert "drive_db=0,tone=0" in out and "0.0028" in out
    assert "0.0191  (held out)" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert "no: the lab format has no knob inputs" in lines["lab"]
    assert "yes" in lines["native"] and "yes" in lines["aidax"]
    assert "no: NAM plugins have no knob inputs" in lines["nam"]
    three = save_model(
        random_model("lstm", 16, knobs=3), tmp_path / "3.json", metadata("lstm", 16, knobs=3)
    )
    lines = [line for line in model_info(three) if line.startswith("  aidax")]
    assert "no:" in lines[0] and "3 knobs" in lines[0]


def test_plain_models_are_unchanged_by_the_knob_code(tmp_path):
    """A one-input file still renders from (time,) audio and has no knob lines in info."""
    model = random_model("gru", 8)
    path = save_model(model, tmp_path / "m.json", metadata("gru", 8), "aidax")
    back, meta = load_model(path)
    x = sine_and_noise(0.02)
    assert "knobs" not in meta and not any("knobs" in s for s in model_info(path))
    warm = np.concatenate([np.zeros(2048, np.float32), x])
    assert np.abs(render_array(back, x) - run_blocks(model, warm)[2048:]).max() < 2e-5


def test_a_trained_knob_model_exports_and_renders_end_to_end(tmp_path, capsys):
    """knobs.csv -> train (one setting held out) -> info -> aidax -> render --knob."""

    write_wav(tmp_path / "input" / "riff.wav", noise(1.0))
    make_outputs(tmp_path, "softclip", "sc", knob="drive_db=0:24:4")
    neuralfx.train(fast_config(tmp_path, max_epochs=2, holdout=("drive_db=16",)))
    src = tmp_path / "runs" / "t" / "model.json"
    capsys.readouterr()
    assert main(["info", str(src)]) == 0
    out = capsys.readouterr().out
    assert "drive_db 0..24 dB" in out and "held out:     drive_db=16" in out
    assert "drive_db=16" in out.split("test ESR by setting:")[1]
    aidax = export_model(src, "aidax")
    d = json.loads(aidax.read_text())
    assert d["in_shape"] == [None, None, 2] and d["neuralfx"]["holdout"] == ["drive_db=16"]
    wav, o = tmp_path / "input" / "riff.wav", tmp_path / "o.wav"
    assert main(["render", str(aidax), str(wav), str(o), "--knob", "drive_db=16"]) == 0

    x, _ = sf.read(wav, dtype="float32")
    want = aidax_forward(d, with_knobs(x[:2000], [16 / 24]))
    assert np.abs(sf.read(o, dtype="float32")[0][:2000] - want).max() < 2e-5
