import numpy as np
import soundfile as sf
import torch
from utils import noise

from neuralfx.audio import write_wav
from neuralfx.cli import main
from neuralfx.config import ModelConfig
from neuralfx.export import load_model, save_model
from neuralfx.models import build_model
from neuralfx.render import render_array, render_file


def _model(tmp_path, name="lstm", **kw):
    torch.manual_seed(0)
    m = build_model(ModelConfig(name, 16, **kw))
    path = save_model(
        m, tmp_path / "m.json", {"sample_rate_hz": 44100, "skip": kw.get("skip", False)}
    )
    return m.eval(), path


def test_block_size_does_not_change_the_output(tmp_path):
    m, _ = _model(tmp_path, "conv-gru", num_layers=2)
    x = noise(1.0, seed=4)
    whole = render_array(m, x, block_samples=len(x))
    np.testing.assert_allclose(render_array(m, x, block_samples=997), whole, atol=1e-6)


def test_render_file_streams_and_matches_render_array(tmp_path):
    m, path = _model(tmp_path, skip=True)
    x = noise(2.0, seed=5)
    write_wav(tmp_path / "in.wav", x, subtype="FLOAT")
    render_file(path, tmp_path / "in.wav", tmp_path / "out.wav", block_samples=4096)
    y, rate = sf.read(tmp_path / "out.wav", dtype="float32")
    assert rate == 44100 and len(y) == len(x)
    loaded, meta = load_model(path)
    assert meta["skip"] is True
    np.testing.assert_allclose(y, render_array(loaded, x), atol=1e-6)


def test_render_reads_pcm_and_stereo_and_uses_the_first_channel(tmp_path):
    m, path = _model(tmp_path)
    x = noise(0.5, seed=6)
    sf.write(tmp_path / "st.wav", np.stack([x, np.zeros_like(x)], 1), 44100, subtype="PCM_24")
    assert main(["render", str(path), str(tmp_path / "st.wav"), str(tmp_path / "o.wav")]) == 0
    y, _ = sf.read(tmp_path / "o.wav", dtype="float32")
    x24, _ = sf.read(tmp_path / "st.wav", dtype="float32")
    np.testing.assert_allclose(y, render_array(m, x24[:, 0]), atol=1e-6)


def test_render_refuses_another_sample_rate(tmp_path, capsys):
    _, path = _model(tmp_path)
    write_wav(tmp_path / "in48.wav", noise(0.2), sample_rate_hz=48000)
    assert main(["render", str(path), str(tmp_path / "in48.wav"), str(tmp_path / "o.wav")]) == 2
    assert "48000" in capsys.readouterr().err
    assert not (tmp_path / "o.wav").exists()


def test_resample_renders_a_file_at_another_rate_and_returns_to_it(tmp_path, capsys):
    from neuralfx.audio import resample

    m, path = _model(tmp_path)  # a 44.1 kHz model
    x48 = resample(noise(1.0, seed=8), 44100, 48000)
    write_wav(tmp_path / "in48.wav", x48, sample_rate_hz=48000)
    out = tmp_path / "o.wav"
    assert main(["render", str(path), str(tmp_path / "in48.wav"), str(out), "--resample"]) == 0
    y, rate = sf.read(out, dtype="float32")
    assert rate == 48000 and len(y) == len(x48)
    expected = resample(render_array(m, resample(x48, 48000, 44100)), 44100, 48000)[: len(x48)]
    np.testing.assert_allclose(y, expected, atol=1e-5)
