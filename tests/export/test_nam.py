"""--format nam and the .nam reader, checked by an independent numpy NAM LSTM and, where
bench/out/nam-venv holds neural-amp-modeler, by NAM's own loader."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from engines import nam_forward
from utils import metadata, random_model, run_blocks, sine_and_noise

from neuralfx.cli import main
from neuralfx.errors import ExportError, ModelFileError
from neuralfx.export import export_model, load_model, save_model
from neuralfx.export.nam import loudness_input
from neuralfx.render import render_array

NAM_VENV_PYTHON = (
    Path(__file__).resolve().parents[2] / "bench" / "out" / "nam-venv" / "bin" / "python"
)
NAM_KEYS = {
    "name",
    "modeled_by",
    "gear_make",
    "gear_model",
    "gear_type",
    "tone_type",
    "loudness",
    "gain",
    "input_level_dbu",
    "output_level_dbu",
}
INFO = {
    "name": "Clean 1",
    "modeled_by": "me",
    "gear_make": "Acme",
    "gear_model": "A1",
    "gear_type": "pedal",
    "tone_type": "overdrive",
    "input_level_dbu": 12.0,
    "output_level_dbu": 8.5,
}


def nam_meta(layers: int, rate: int = 48000) -> dict:
    return {**metadata("lstm", 8, layers), "sample_rate_hz": rate}


def after_silence(model, x: np.ndarray) -> np.ndarray:
    """The original model played after NAM's 48000 samples of silence, from zero state."""
    warm = np.concatenate([np.zeros(48000, np.float32), x])
    return run_blocks(model, warm)[48000:]


@pytest.mark.parametrize("layers", [1, 2, 3])
def test_nam_export_plays_like_the_model(tmp_path, layers):
    model = random_model("lstm", 8, layers, seed=layers, scale=2.0)
    path = save_model(model, tmp_path / "m.nam", nam_meta(layers), "nam", info=INFO)
    d = json.loads(path.read_text())
    assert d["version"] == "0.5.4" and d["architecture"] == "LSTM"
    assert d["config"] == {"input_size": 1, "hidden_size": 8, "num_layers": layers}
    assert d["sample_rate"] == 48000
    assert set(d["metadata"]) == NAM_KEYS
    assert {k: d["metadata"][k] for k in INFO} == INFO
    x = sine_and_noise(0.03, seed=5)
    engine = nam_forward(d, x)
    np.testing.assert_allclose(engine, after_silence(model, x), rtol=0, atol=2e-5)
    back, meta = load_model(path)
    assert meta["format"] == "nam" and meta["sample_rate_hz"] == 48000
    np.testing.assert_allclose(render_array(back, x), engine, rtol=0, atol=2e-5)
    # NAM's loudness: dB RMS of the output for the reference input, from the stored state
    y = nam_forward(d, loudness_input(48000))
    assert d["metadata"]["loudness"] == pytest.approx(
        20 * np.log10(np.sqrt(np.mean(y**2))), abs=1e-3
    )
    assert 0.0 <= d["metadata"]["gain"] <= 1.0


def test_loudness_input_is_pink_noise_at_nams_level():
    x = loudness_input(44100).astype(np.float64)
    assert len(x) == 44100
    assert 20 * np.log10(np.sqrt(np.mean(x**2))) == pytest.approx(-14.97, abs=0.01)
    power = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 44100)
    octaves = [power[(f >= lo) & (f < 2 * lo)].sum() for lo in (100, 400, 1600, 6400)]
    assert max(octaves) / min(octaves) < 1.5  # equal power per octave, as NAM's input


def test_loudness_can_use_another_input(tmp_path, capsys):
    src = save_model(random_model("lstm", 8), tmp_path / "model.json", nam_meta(1), "native")
    wav = tmp_path / "ref.wav"
    sf.write(wav, 0.5 * sine_and_noise(1.0), 48000, subtype="PCM_24")
    assert main(["export", str(src), "--format", "nam", "--loudness-input", str(wav)]) == 0
    d = json.loads((tmp_path / "model.nam").read_text())
    x, _ = sf.read(wav, dtype="float32")
    y = nam_forward(d, x)
    assert d["metadata"]["loudness"] == pytest.approx(
        20 * np.log10(np.sqrt(np.mean(y**2))), abs=1e-3
    )
    capsys.readouterr()


@pytest.mark.parametrize(
    "name,skip,words",
    [
        ("gru", False, "a GRU"),
        ("lstm", True, "a skip connection"),
        ("conv-lstm", False, "3 conv layers"),
    ],
)
def test_models_nam_cannot_run_are_refused(tmp_path, capsys, name, skip, words):
    src = save_model(
        random_model(name, 8, 1, skip), tmp_path / "model.json", metadata(name, 8, 1, skip)
    )
    with pytest.raises(ExportError, match=words):
        export_model(src, "nam")
    assert main(["export", str(src), "--format", "nam"]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "NAM plugins run LSTM" in line and str(src) in line
    assert not (tmp_path / "model.nam").exists()


def test_cli_nam_flags(tmp_path, capsys):
    src = save_model(random_model("lstm", 8), tmp_path / "model.json", nam_meta(1, 44100), "native")
    argv = ["export", str(src), "--format", "nam", "--name", "N", "--gear-type", "amp"]
    argv += ["--tone-type", "hi_gain", "--modeled-by", "me", "--input-level-dbu", "10"]
    assert main(argv) == 0
    d = json.loads((tmp_path / "model.nam").read_text())
    assert d["sample_rate"] == 44100 and d["metadata"]["gear_type"] == "amp"
    assert d["metadata"]["input_level_dbu"] == 10.0 and d["metadata"]["output_level_dbu"] is None
    with pytest.raises(SystemExit):
        main(["export", str(src), "--format", "nam", "--gear-type", "tuba"])
    capsys.readouterr()


def handmade_nam(rng, layers=2, hidden=4) -> dict:
    """A .nam LSTM with random weights and a non-zero initial state, as another trainer writes."""
    n = sum(4 * hidden * ((1 if k == 0 else hidden) + hidden) + 6 * hidden for k in range(layers))
    return {
        "version": "0.5.2",
        "architecture": "LSTM",
        "config": {"input_size": 1, "hidden_size": hidden, "num_layers": layers},
        "weights": (rng.standard_normal(n + hidden + 1) * 0.8).tolist(),
        "sample_rate": 44100.0,
        "metadata": {"name": "someone else's"},
    }


def test_reader_starts_from_the_files_initial_state(tmp_path):
    d = handmade_nam(np.random.default_rng(1))
    path = tmp_path / "other.nam"
    path.write_text(json.dumps(d))
    model, meta = load_model(path)
    x = sine_and_noise(0.02, seed=3)
    engine = nam_forward(d, x)
    np.testing.assert_allclose(render_array(model, x), engine, rtol=0, atol=2e-5)
    zero = dict(d, weights=list(d["weights"]))
    assert meta["nam_metadata"]["name"] == "someone else's" and meta["sample_rate_hz"] == 44100
    # the initial state matters: zeroing layer 0's h0 changes the first samples
    for j in range(4 * 4 * 5 + 16, 4 * 4 * 5 + 20):
        zero["weights"][j] = 0.0
    assert np.abs(nam_forward(zero, x)[:50] - engine[:50]).max() > 1e-3


@pytest.mark.parametrize(
    "edit,words",
    [
        (lambda d: d.__setitem__("architecture", "WaveNet"), "'WaveNet'"),
        (lambda d: d["weights"].pop(), "holds 260 numbers; 2 LSTM layer(s) of 4 units need 261"),
        (lambda d: d["config"].__setitem__("hidden_size", 10**9), "'hidden_size' is 1000000000"),
        (lambda d: d["config"].__setitem__("input_size", 2), "'input_size' is 2"),
        (lambda d: d["weights"].__setitem__(3, "x"), "not a flat list of numbers"),
        (lambda d: d.pop("config"), "no 'config'"),
        (lambda d: d.__setitem__("sample_rate", "fast"), "'sample_rate' is 'fast'"),
    ],
)
def test_broken_nam_files_give_one_line_errors(tmp_path, edit, words):
    d = handmade_nam(np.random.default_rng(2))
    edit(d)
    path = tmp_path / "bad.nam"
    path.write_text(json.dumps(d))
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    assert words in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


NAM_SCRIPT = """
import json, sys, numpy as np, torch
from nam.models._from_nam import init_from_nam
model = init_from_nam(json.load(open(sys.argv[1]))).eval()
x = np.load(sys.argv[2])
with torch.no_grad():
    np.save(sys.argv[3], model(torch.from_numpy(x)[None]).numpy().ravel())
    print(model._metadata_loudness(), float(model._metadata_gain()))
"""


@pytest.mark.skipif(not NAM_VENV_PYTHON.is_file(), reason="bench/out/nam-venv is not installed")
@pytest.mark.parametrize("source", ["ours", "handmade"])
def test_nams_own_loader_agrees(tmp_path, source):
    if source == "ours":
        model = random_model("lstm", 8, 2, seed=4, scale=2.0)
        theirs = list(NAM_VENV_PYTHON.parents[1].glob("lib/*/site-packages/nam/models/_resources"))
        wav = theirs[0] / "loudness_input.wav"
        path = save_model(
            model, tmp_path / "m.nam", nam_meta(2), "nam", info=INFO, loudness_wav=wav
        )
    else:
        path = tmp_path / "m.nam"
        path.write_text(json.dumps(handmade_nam(np.random.default_rng(3))))
    x = sine_and_noise(0.05, seed=6)
    np.save(tmp_path / "x.npy", x)
    r = subprocess.run(
        [str(NAM_VENV_PYTHON), "-c", NAM_SCRIPT, str(path), tmp_path / "x.npy", tmp_path / "y.npy"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    theirs = np.load(tmp_path / "y.npy")
    ours = render_array(load_model(path)[0], x)
    assert np.abs(ours - theirs).max() < 1e-5
    if source == "ours":  # on NAM's own input, NAM's loudness and gain are ours
        loudness, gain = map(float, r.stdout.split()[-2:])
        d = json.loads(path.read_text())
        assert d["metadata"]["loudness"] == pytest.approx(loudness, abs=1e-3)
        assert d["metadata"]["gain"] == pytest.approx(gain, abs=1e-3)


def test_recurrent_import_of_a_nam_drops_only_the_initial_state(tmp_path):
    from neuralfx.export import load_recurrent_model

    d = handmade_nam(np.random.default_rng(4), layers=1, hidden=8)
    path = tmp_path / "n.nam"
    path.write_text(json.dumps(d))
    model, meta = load_recurrent_model(path)
    assert (meta["model"], meta["hidden_size"], meta["num_layers"]) == ("lstm", 8, 1)
    x = sine_and_noise(0.02)
    zero_state = json.loads(json.dumps(d))
    zero_state["weights"][4 * 8 * 9 + 32 : 4 * 8 * 9 + 48] = [0.0] * 16
    with torch.inference_mode():
        got = model(torch.from_numpy(x).view(1, -1, 1))[0].view(-1).numpy()
    np.testing.assert_allclose(got, nam_forward(zero_state, x), rtol=0, atol=2e-5)
