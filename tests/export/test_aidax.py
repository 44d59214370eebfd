"""--format aidax: the file AIDA-X loads as it is, checked by an independent numpy reader."""

from __future__ import annotations

import json

import numpy as np
import pytest
from engines import aidax_forward
from utils import metadata, random_model, run_blocks, sine_and_noise

from neuralfx.cli import main
from neuralfx.config import ModelConfig
from neuralfx.errors import ExportError, ModelFileError
from neuralfx.export import export_model, load_model, save_model
from neuralfx.models import RTNEURAL_HIDDEN_SIZES, build_model
from neuralfx.render import render_array

AIDAX_SIZES = (8, 12, 16, 20, 24, 32, 40, 64, 80)  # AIDA-X's model_variant.hpp


def aidax_picks(d: dict) -> bool:
    """AIDA-X's model selection: first layer's type and width, and the input count."""
    first = d["layers"][0]
    return (
        first["type"] in ("lstm", "gru")
        and first["shape"][-1] in AIDAX_SIZES
        and d["in_shape"][-1] in (1, 2, 3)
        and [lay["type"] for lay in d["layers"]] == [first["type"], "dense"]
    )


def run_meta(name, hidden, skip=False, rate=48000):
    return {**metadata(name, hidden, 1, skip), "sample_rate_hz": rate, "test_esr": 0.0123}


CASES = [
    ("lstm", 12, False, None, None),
    ("gru", 8, True, None, None),
    ("lstm", 80, True, -6.0, 3.0),
    ("gru", 40, False, 4.5, -2.0),
]


@pytest.mark.parametrize("name,hidden,skip,in_db,out_db", CASES)
def test_aidax_export_plays_like_the_model(tmp_path, name, hidden, skip, in_db, out_db):
    model = random_model(name, hidden, 1, skip, seed=hidden)
    path = save_model(
        model,
        tmp_path / "m.aidax.json",
        run_meta(name, hidden, skip),
        "aidax",
        input_gain_db=in_db,
        output_gain_db=out_db,
        info={"name": "Tone", "author": "me", "style": "Crunch", "based": "Pedal X"},
    )
    d = json.loads(path.read_text())
    assert aidax_picks(d)
    assert ("in_skip" in d) == skip and d.get("in_skip", 1) == 1
    assert d.get("in_gain") == in_db and d.get("out_gain") == out_db
    assert d["metadata"] == {
        "name": "Tone",
        "author": "me",
        "style": "Crunch",
        "based": "Pedal X",
        "source": "neuralfx",
        "samplerate": "48000",
        "esr": 0.0123,
    }
    x = sine_and_noise(0.04, seed=2)
    engine = aidax_forward(d, x)
    # the original model with AIDA-X's arithmetic done here: y = g_out * model(g_in * x)
    g_in, g_out = 10 ** ((in_db or 0) / 20), 10 ** ((out_db or 0) / 20)
    warm = np.concatenate([np.zeros(2048, np.float32), x]) * np.float32(g_in)
    want = g_out * run_blocks(model, warm.astype(np.float32))[2048:]
    np.testing.assert_allclose(engine, want, rtol=0, atol=2e-5)
    back, meta = load_model(path)
    assert meta["format"] == "aidax" and meta["sample_rate_hz"] == 48000
    np.testing.assert_allclose(render_array(back, x), engine, rtol=0, atol=2e-5)


@pytest.mark.parametrize(
    "name,hidden,layers,words",
    [
        ("conv-lstm", 16, 1, "3 conv layers"),
        ("gru", 16, 2, "2 stacked gru layers"),
        ("lstm", 48, 1, "hidden size 48"),
        ("lstm", 4, 1, "hidden size 4"),
    ],
)
def test_models_aidax_cannot_run_are_refused(tmp_path, capsys, name, hidden, layers, words):
    src = save_model(
        random_model(name, hidden, layers), tmp_path / "model.json", metadata(name, hidden, layers)
    )
    with pytest.raises(ExportError) as err:
        export_model(src, "aidax")
    msg = str(err.value)
    assert words in msg and "AIDA-X runs one LSTM or GRU layer" in msg and str(src) in msg
    assert "80" in msg and "--format native" in msg
    assert main(["export", str(src), "--format", "aidax"]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and words in line
    assert not (tmp_path / "model.aidax.json").exists()


def test_cli_export_carries_flags_and_run_metadata(tmp_path, capsys):
    meta = {**run_meta("gru", 16, True, rate=96000), "run": "fuzz-run", "effect": "fuzz"}
    src = save_model(random_model("gru", 16, 1, True), tmp_path / "model.json", meta, "native")
    argv = ["export", str(src), "--format", "aidax", "--input-gain-db", "-3", "--style", "Fuzz"]
    assert main(argv) == 0
    out = tmp_path / "model.aidax.json"
    assert capsys.readouterr().out.strip() == str(out)
    d = json.loads(out.read_text())
    assert d["in_gain"] == -3.0 and "out_gain" not in d and d["in_skip"] == 1
    assert d["metadata"]["name"] == "fuzz-run" and d["metadata"]["based"] == "fuzz"
    assert d["metadata"]["samplerate"] == "96000" and d["metadata"]["style"] == "Fuzz"
    assert main(["export", str(src), "--format", "native", "--style", "x"]) == 2
    assert "--style" in capsys.readouterr().err
    assert main(["export", str(src), "--format", "aidax", "--output-gain-db", "-95"]) == 2


def test_native_writes_and_honours_in_skip(tmp_path):
    skip = save_model(
        random_model("lstm", 8, 1, True),
        tmp_path / "s.json",
        metadata("lstm", 8, 1, True),
        "native",
    )
    plain = save_model(random_model("lstm", 8), tmp_path / "p.json", metadata("lstm", 8), "native")
    d = json.loads(skip.read_text())
    assert d["in_skip"] == 1 and "in_skip" not in json.loads(plain.read_text())
    del d["neuralfx"]["skip"]  # a host that knows only in_skip still adds the input
    skip.write_text(json.dumps(d))
    assert load_model(skip)[0].skip is True
    d["neuralfx"]["skip"] = False
    skip.write_text(json.dumps(d))
    with pytest.raises(ModelFileError, match="'in_skip' is 1 but metadata says skip False"):
        load_model(skip)


def test_hidden_size_80_trains_and_exports():
    assert 80 in RTNEURAL_HIDDEN_SIZES
    assert build_model(ModelConfig("lstm", 80)).rnn.hidden_size == 80
