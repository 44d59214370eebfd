"""Model files in Python: native round trips, RTNeural's conventions, errors, export_model.

The C++ side (real RTNeural) is tested in test_cpp.py; here a small numpy interpreter written
from RTNeural's layer equations checks the native layout without a compiler.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from utils import RATE, metadata, random_model, run_blocks, sine_and_noise

from neuralfx.errors import ExportError, ModelFileError
from neuralfx.export import export_model, load_model, save_model
from neuralfx.export.native import from_native_dict, to_native_dict
from neuralfx.models import REGISTRY


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def rtneural_reference(d: dict, x: np.ndarray) -> np.ndarray:
    """Run a native JSON with RTNeural's equations (float64), independent of PyTorch.

    conv1d: tap k of kernel (K, in, out) multiplies the input (K-1-k)*dilation samples back.
    lstm: gates i, f, c, o in blocks of the (in, 4H) kernel. gru: z, r, h; the candidate is
    tanh(x W_h + b0_h + r * (h U_h + b1_h)).
    """
    h = x.astype(np.float64)[:, None]
    for layer in d["layers"]:
        w = [np.asarray(a, dtype=np.float64) for a in layer["weights"]]
        kind = layer["type"]
        if kind == "conv1d":
            k_size, dil = layer["kernel_size"][-1], layer["dilation"][-1]
            padded = np.vstack([np.zeros(((k_size - 1) * dil, h.shape[1])), h])
            h = w[1] + sum(padded[k * dil : k * dil + len(h)] @ w[0][k] for k in range(k_size))
            h = np.tanh(h) if layer.get("activation") == "tanh" else h
        elif kind in ("lstm", "gru"):
            n = layer["shape"][-1]
            hs, c, out = np.zeros(n), np.zeros(n), np.empty((len(h), n))
            for t in range(len(h)):
                if kind == "lstm":
                    g = h[t] @ w[0] + hs @ w[1] + w[2]
                    c = _sigmoid(g[n : 2 * n]) * c + _sigmoid(g[:n]) * np.tanh(g[2 * n : 3 * n])
                    hs = _sigmoid(g[3 * n :]) * np.tanh(c)
                else:
                    a, b = h[t] @ w[0] + w[2][0], hs @ w[1] + w[2][1]
                    z, r = _sigmoid(a[:n] + b[:n]), _sigmoid(a[n : 2 * n] + b[n : 2 * n])
                    cand = np.tanh(a[2 * n :] + r * b[2 * n :])
                    hs = (1 - z) * cand + z * hs
                out[t] = hs
            h = out
        elif kind == "dense":
            h = h @ w[0] + w[1]
        else:
            raise AssertionError(f"unexpected layer {kind}")
    return h[:, 0]


ALL_MODELS = [
    (name, layers, skip) for name in REGISTRY for layers in (1, 2) for skip in (False, True)
]


@pytest.mark.parametrize("name,layers,skip", ALL_MODELS)
def test_native_round_trip_is_exact(name, layers, skip):
    model = random_model(name, 16, layers, skip, seed=layers)
    d = json.loads(json.dumps(to_native_dict(model, metadata(name, 16, layers, skip))))
    back, meta = from_native_dict(d, "model.json")
    x = sine_and_noise(0.05)
    np.testing.assert_allclose(run_blocks(back, x), run_blocks(model, x), rtol=0, atol=1e-6)
    assert (meta["model"], meta["hidden_size"], meta["num_layers"], meta["skip"]) == (
        name,
        16,
        layers,
        skip,
    )
    meta = {k: v for k, v in meta.items() if k not in ("format", "format_version")}
    again = to_native_dict(back, meta)
    assert json.loads(json.dumps(again)) == d  # a fixed point: exporting twice changes nothing


@pytest.mark.parametrize("name", list(REGISTRY))
def test_native_layout_follows_rtneural_equations(name):
    model = random_model(name, 8, 2, seed=3)
    d = json.loads(json.dumps(to_native_dict(model, metadata(name, 8, 2))))
    x = sine_and_noise(0.02)
    np.testing.assert_allclose(
        rtneural_reference(d, x), run_blocks(model, x, block=97), rtol=0, atol=2e-5
    )


def test_native_layout_golden():
    model = random_model("conv-gru", 16, 2, skip=True)
    d = to_native_dict(model, metadata("conv-gru", 16, 2, True))
    assert d["in_shape"] == [None, None, 1]
    assert [(lay["type"], lay["shape"][-1]) for lay in d["layers"]] == [("conv1d", 8)] * 3 + [
        ("gru", 16)
    ] * 2 + [("dense", 1)]
    assert [lay["dilation"] for lay in d["layers"][:3]] == [[1], [2], [4]]
    assert all(lay["activation"] == "tanh" for lay in d["layers"][:3])
    kernel, recurrent, bias = (np.asarray(a) for a in d["layers"][3]["weights"])
    assert (kernel.shape, recurrent.shape, bias.shape) == ((8, 48), (16, 48), (2, 48))
    # Keras puts z first; PyTorch's weight_ih_l0 holds r in rows 0..15 and z in rows 16..31.
    np.testing.assert_array_equal(kernel[:, :16], model.gru.weight_ih_l0[16:32].detach().T)
    np.testing.assert_array_equal(bias[1, 16:32], model.gru.bias_hh_l0[:16].detach())
    lstm = random_model("lstm", 8)
    lay = to_native_dict(lstm, metadata("lstm", 8))["layers"][0]
    np.testing.assert_allclose(
        lay["weights"][2], (lstm.lstm.bias_ih_l0 + lstm.lstm.bias_hh_l0).detach(), rtol=0, atol=0
    )
    assert d["neuralfx"]["format"] == "native" and d["neuralfx"]["skip"] is True


def test_both_formats_load_from_file(tmp_path):
    model = random_model("gru", 16, skip=True)
    x = sine_and_noise(0.05)
    for fmt in ("lab", "native"):
        path = save_model(model, tmp_path / f"{fmt}.json", metadata("gru", 16, 1, True), fmt)
        back, meta = load_model(path)
        assert meta["format"] == fmt and meta["skip"] is True
        np.testing.assert_allclose(run_blocks(back, x), run_blocks(model, x), rtol=0, atol=1e-6)


def _native(tmp_path: Path, edit, name: str = "lstm", layers: int = 1) -> Path:
    d = to_native_dict(random_model(name, 16, layers), metadata(name, 16, layers))
    edit(d)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(d))
    return path


@pytest.mark.parametrize(
    "edit,words",
    [
        (lambda d: d["layers"][0].pop("weights"), ["layer 0 (lstm)", "'weights'"]),
        (lambda d: d.pop("in_shape"), ["'in_shape'"]),
        (
            lambda d: d["layers"][0]["weights"].__setitem__(1, [[0.0] * 64] * 8),
            ["layer 0 (lstm)", "recurrent kernel", "[8, 64]", "[16, 64]"],
        ),
        (
            lambda d: d["layers"][1]["weights"].__setitem__(0, [[0.0]] * 8),
            ["layer 1 (dense)", "[8, 1]", "[16, 1]"],
        ),
        (
            lambda d: d["layers"][0]["weights"][1][3].pop(),
            ["layer 0 (lstm)", "not a numeric array"],
        ),
        (lambda d: d["neuralfx"].__setitem__("hidden_size", 32), ["hidden_size 32", "16"]),
        (
            lambda d: d["layers"].insert(
                1, {"type": "prelu", "shape": [None, None, 16], "weights": []}
            ),
            ["layer 1", "prelu"],
        ),
    ],
)
def test_native_errors_name_the_layer_and_shapes(tmp_path, edit, words):
    with pytest.raises(ModelFileError) as err:
        load_model(_native(tmp_path, edit))
    msg = str(err.value)
    assert "\n" not in msg and str(tmp_path / "model.json") in msg
    for w in words:
        assert w in msg


def test_conv_activation_and_gru_bias_are_checked(tmp_path):
    def relu(d):
        d["layers"][0]["activation"] = "relu"

    with pytest.raises(ModelFileError, match="tanh"):
        load_model(_native(tmp_path, relu, name="conv-gru"))

    def one_bias_row(d):
        d["layers"][3]["weights"][2] = d["layers"][3]["weights"][2][0]

    with pytest.raises(ModelFileError, match=r"layer 3 \(gru\).*\[48\], expected \[2, 48\]"):
        load_model(_native(tmp_path, one_bias_row, name="conv-gru"))


def test_a_separate_tanh_layer_is_read_like_a_conv_activation(tmp_path):
    model = random_model("conv-lstm", 8)
    d = to_native_dict(model, metadata("conv-lstm", 8))
    for i in (2, 1, 0):
        d["layers"][i]["activation"] = ""
        d["layers"].insert(
            i + 1,
            {"type": "activation", "activation": "tanh", "shape": [None, None, 8], "weights": []},
        )
    back, _ = from_native_dict(json.loads(json.dumps(d)), "m.json")
    x = sine_and_noise(0.02)
    np.testing.assert_allclose(run_blocks(back, x), run_blocks(model, x), rtol=0, atol=1e-6)


def test_lab_errors_name_the_key(tmp_path):
    path = save_model(random_model("lstm", 16), tmp_path / "lab.json", metadata("lstm", 16), "lab")
    d = json.loads(path.read_text())
    del d["lstm.bias_hh_l0"]
    path.write_text(json.dumps(d))
    with pytest.raises(ModelFileError, match="lstm.bias_hh_l0"):
        load_model(path)


def test_diverged_model_is_not_exported(tmp_path):
    model = random_model("gru", 8)
    with torch.no_grad():
        model.gru.weight_hh_l0[0, 0] = float("nan")
    with pytest.raises(ExportError, match="gru.weight_hh_l0"):
        save_model(model, tmp_path / "m.json", metadata("gru", 8), "native")
    assert not (tmp_path / "m.json").exists()


def test_export_model_converts_a_run_folder(tmp_path):
    run = tmp_path / "runs" / "r1"
    model = random_model("lstm", 16, skip=True)
    save_model(model, run / "model.json", metadata("lstm", 16, 1, True), "lab")
    before = (run / "model.json").read_bytes()

    out = export_model(run, "native")
    assert out == run / "model.native.json"
    back, meta = load_model(out)
    assert meta["format"] == "native" and meta["skip"] is True and meta["sample_rate_hz"] == RATE
    x = sine_and_noise(0.05)
    np.testing.assert_allclose(run_blocks(back, x), run_blocks(model, x), rtol=0, atol=1e-6)

    lab_again = export_model(out, "lab", tmp_path / "again.json")
    np.testing.assert_allclose(
        run_blocks(load_model(lab_again)[0], x), run_blocks(model, x), rtol=0, atol=1e-6
    )
    assert (run / "model.json").read_bytes() == before


def test_export_model_refusals(tmp_path):
    with pytest.raises(ModelFileError, match="no model.json"):
        export_model(tmp_path, "native")
    path = save_model(
        random_model("conv-lstm", 8), tmp_path / "model.json", metadata("conv-lstm", 8), "native"
    )
    with pytest.raises(ExportError, match="--format native"):
        export_model(path, "lab")
    with pytest.raises(ExportError, match="choose another output"):
        export_model(path, "native", path)
    with pytest.raises(ExportError, match="lab, native"):
        export_model(path, "onnx")
