"""Rendering other tools' RTNeural JSON and AIDA-X files, against an independent numpy reader."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from engines import aidax_forward, nam_forward, rtneural_forward
from utils import sine_and_noise

from neuralfx.cli import main
from neuralfx.errors import AudioError, ModelFileError
from neuralfx.export import load_model, load_recurrent_model
from neuralfx.models.sequential import to_recurrent_model
from neuralfx.render import render_array, render_file


def weights(seed: int = 7):
    """A seeded source of weight arrays, so a file is the same whichever test makes it first."""
    rng = np.random.default_rng(seed)
    return lambda *shape, scale=0.6: (rng.standard_normal(shape) * scale).tolist()


arr = weights(0)  # for the edits of broken files


def layer(kind, width, weights, activation="", **extra):
    return {
        "type": kind,
        "activation": activation,
        "shape": [None, None, width],
        "weights": weights,
        **extra,
    }


def gru_1d() -> dict:
    """The shape of RTNeural's reference gru_1d model: gru -> dense(8, sigmoid) -> dense(1)."""
    arr = weights()
    return {
        "in_shape": [None, None, 1],
        "layers": [
            layer("gru", 8, [arr(1, 24), arr(8, 24), arr(2, 24)]),
            layer("dense", 8, [arr(8, 8), arr(8)], "sigmoid"),
            layer("dense", 1, [arr(8, 1), arr(1)]),
        ],
    }


def every_layer() -> dict:
    arr, rng = weights(), np.random.default_rng(8)

    def variance(n):  # small, so the layer amplifies and the signal stays lively
        return (0.02 + 0.05 * rng.random(n)).tolist()

    return {
        "in_shape": [None, None, 1],
        "layers": [
            layer("conv1d", 4, [arr(3, 1, 4), arr(4)], "tanh", kernel_size=[3], dilation=[2]),
            layer("conv1d", 6, [arr(2, 2, 6), arr(6)], kernel_size=[2], dilation=[1], groups=2),
            layer("prelu", 6, [[arr(6, scale=0.3)]]),
            layer(
                "batchnorm",
                6,
                [arr(6, scale=0.3), arr(6, scale=0.3), arr(6, scale=0.1), variance(6)],
                epsilon=1e-3,
            ),
            layer("activation", 6, [], "elu"),
            layer("lstm", 5, [arr(6, 20), arr(5, 20), arr(20)]),
            layer("time-distributed-dense", 4, [arr(5, 4, scale=2.0)], "relu"),
            layer("batchnorm", 4, [arr(4, scale=0.1), variance(4)], epsilon=0.0),
            layer("prelu", 4, [[[0.2]]]),
            layer("dense", 3, [arr(4, 3), arr(3)], "softmax"),
            layer("activation", 3, [], "tanh"),
            layer("dense", 1, [arr(3, 1, scale=3.0), arr(1)]),
        ],
    }


def write(tmp_path, d, name="m.json"):
    path = tmp_path / name
    path.write_text(json.dumps(d))
    return path


@pytest.mark.parametrize("make", [gru_1d, every_layer])
def test_foreign_rtneural_json_renders_like_rtneural(tmp_path, make):
    d = make()
    model, meta = load_model(write(tmp_path, d))
    assert meta["format"] == "rtneural" and meta["sample_rate_hz"] is None
    x = sine_and_noise(0.03, seed=1)
    got = render_array(model, x, block_samples=257)
    np.testing.assert_allclose(got, rtneural_forward(d, x), rtol=0, atol=2e-5)


def test_cli_renders_rtneurals_gru_1d_at_the_inputs_rate(tmp_path, capsys):
    d = gru_1d()
    path = write(tmp_path, d)
    wav = tmp_path / "in.wav"
    x = sine_and_noise(0.02)
    sf.write(wav, x, 96000, subtype="FLOAT")
    assert main(["render", str(path), str(wav), str(tmp_path / "out.wav")]) == 0
    y, rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate == 96000
    np.testing.assert_allclose(y, rtneural_forward(d, x), rtol=0, atol=2e-5)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "gru 8 > dense 8 > sigmoid 8 > dense 1" in out and "training     no" in out


def aidax_capture(hidden=12, **top) -> dict:
    """A file as AidaDSP's trainer writes it: lstm + dense, in_skip, metadata, no neuralfx key."""
    arr = weights(hidden)
    return {
        "in_shape": [None, None, 1],
        **top,
        "layers": [
            layer("lstm", hidden, [arr(1, 4 * hidden), arr(hidden, 4 * hidden), arr(4 * hidden)]),
            layer("dense", 1, [arr(hidden, 1), arr(1)]),
        ],
        "metadata": {"name": "capture", "samplerate": "48000", "author": "someone", "esr": 0.02},
    }


@pytest.mark.parametrize(
    "top",
    [{}, {"in_skip": 1}, {"in_skip": 1, "in_gain": -4.0, "out_gain": 2.0}, {"out_gain": -100.0}],
)
def test_aidax_files_render_like_aidax(tmp_path, top):
    d = aidax_capture(**top)
    model, meta = load_model(write(tmp_path, d))
    assert meta["format"] == "aidax" and meta["sample_rate_hz"] == 48000
    assert meta["aidax_metadata"]["author"] == "someone"
    x = sine_and_noise(0.02, seed=2)
    np.testing.assert_allclose(render_array(model, x), aidax_forward(d, x), rtol=0, atol=2e-5)


def test_aidax_rate_comes_from_its_metadata(tmp_path):
    path = write(tmp_path, aidax_capture())
    wav = tmp_path / "in.wav"
    sf.write(wav, sine_and_noise(0.01), 44100, subtype="FLOAT")
    with pytest.raises(AudioError, match="trained at 48000 Hz"):
        render_file(path, wav, tmp_path / "out.wav")


def test_an_aidax_capture_becomes_a_trainable_model(tmp_path):
    d = aidax_capture(16, in_skip=1)
    model, meta = load_recurrent_model(write(tmp_path, d))
    assert (meta["model"], meta["hidden_size"], meta["skip"]) == ("lstm", 16, True)
    x = sine_and_noise(0.02, seed=4)
    with torch.inference_mode():
        got = model(torch.from_numpy(x).view(1, -1, 1))[0].view(-1).numpy()
    np.testing.assert_allclose(got, rtneural_forward(d, x) + x, rtol=0, atol=2e-5)
    gained = aidax_capture(8, in_gain=6.0, out_gain=-3.0)
    model, _ = load_recurrent_model(write(tmp_path, gained, "g.json"))
    with torch.inference_mode():
        got = model(torch.from_numpy(x).view(1, -1, 1))[0].view(-1).numpy()
    want = 10 ** (-3 / 20) * rtneural_forward(gained, x * 10 ** (6 / 20))
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-5)


def test_untrainable_architectures_are_refused_for_training(tmp_path):
    model, _ = load_model(write(tmp_path, gru_1d()))
    with pytest.raises(
        ModelFileError, match="gru 8 > dense 8 > sigmoid 8 > dense 1; neuralfx trains"
    ):
        to_recurrent_model(model, "gru_1d.json")
    model, _ = load_model(write(tmp_path, aidax_capture(in_skip=1, in_gain=-6.0), "s.json"))
    with pytest.raises(ModelFileError, match="in_gain x out_gain"):
        to_recurrent_model(model)


def _edit(change):
    d = gru_1d()
    change(d)
    return d


BROKEN = {
    "conv2d": (
        lambda d: d["layers"][1].__setitem__("type", "conv2d"),
        "layer 1 (conv2d) is a layer neuralfx cannot run",
    ),
    "linear": (
        lambda d: d["layers"][1].__setitem__("activation", "linear"),
        "layer 1 (dense) has activation 'linear'",
    ),
    "knobs": (
        lambda d: d.__setitem__("in_shape", [None, None, 5]),
        "takes 5 inputs; neuralfx renders the signal and up to 3 knobs",
    ),
    "width": (
        lambda d: d["layers"][1].__setitem__("weights", [arr(7, 8), arr(8)]),
        "layer 1 (dense) weights[0] (kernel) has shape [7, 8], expected [8, 8]",
    ),
    "huge": (lambda d: d["layers"][0].__setitem__("shape", [None, None, 10**8]), "width 100000000"),
    "end": (lambda d: d["layers"].pop(), "the last layer has width 8"),
    "in_skip": (lambda d: d.__setitem__("in_skip", 2), "'in_skip' is 2"),
    "gain": (lambda d: d.__setitem__("in_gain", "loud"), "'in_gain' is 'loud'"),
    "rate": (
        lambda d: d.__setitem__("metadata", {"samplerate": "fast"}),
        "metadata 'samplerate' is 'fast'",
    ),
    "history": (
        lambda d: d["layers"].insert(
            0, layer("conv1d", 1, [arr(2, 1, 1), arr(1)], kernel_size=[2], dilation=[10**7])
        ),
        "looks back 10000000 samples",
    ),
    "prelu": (
        lambda d: d["layers"].insert(1, layer("prelu", 8, [[arr(3)]])),
        "layer 1 (prelu) weights[0] (alpha) has shape [1, 3], expected [1, 8]",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_or_unsupported_files_give_one_line_errors(tmp_path, capsys, case):
    edit, words = BROKEN[case]
    path = write(tmp_path, _edit(edit))
    with pytest.raises(ModelFileError) as err:
        load_model(path)
    assert words in str(err.value) and str(path) in str(err.value)
    wav = tmp_path / "in.wav"
    sf.write(wav, sine_and_noise(0.01), 48000, subtype="FLOAT")
    assert main(["render", str(path), str(wav), str(tmp_path / "o.wav")]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and words in line and not (tmp_path / "o.wav").exists()


def test_an_aidax_capture_converts_to_nam(tmp_path, capsys):
    d = aidax_capture(8, in_gain=6.0, out_gain=-3.0)
    src = write(tmp_path, d, "capture.json")
    assert main(["export", str(src), "--format", "nam", "--modeled-by", "me"]) == 0
    nam = json.loads((tmp_path / "capture.nam").read_text())
    assert nam["sample_rate"] == 48000 and nam["metadata"]["modeled_by"] == "me"
    x = sine_and_noise(0.01, seed=6)
    # the .nam starts after 48000 samples of silence; AIDA-X's own warm-up is 2048 of them
    warm = np.concatenate([np.zeros(48000 - 2048), x])
    want = aidax_forward(d, warm)[48000 - 2048 :]
    np.testing.assert_allclose(nam_forward(nam, x), want, rtol=0, atol=2e-5)
    assert main(["export", str(write(tmp_path, gru_1d(), "g.json")), "--format", "aidax"]) == 2
    assert "gru 8 > dense 8 > sigmoid 8 > dense 1; neuralfx trains" in capsys.readouterr().err
