"""``neuralfx data make``: outputs, sidecars, knobs, several inputs."""

import json

import numpy as np
import pytest
import soundfile as sf
from utils import noise

from neuralfx.audio import write_wav
from neuralfx.data import find_pairs
from neuralfx.data.make import make_outputs
from neuralfx.dsp.chains import parse_chain
from neuralfx.errors import DatasetError, EffectError

SR = 44100


def test_data_make_writes_json_refuses_overwrite_and_forces(tmp_path):
    write_wav(tmp_path / "input" / "clean.wav", noise(1.0))
    spec = "highpass(cutoff_hz=100) | softclip(drive_db=24)"
    written = make_outputs(tmp_path, spec, name="drive")
    wav, meta = tmp_path / "output" / "drive.wav", tmp_path / "output" / "drive.json"
    assert written == [wav, meta]
    record = json.loads(meta.read_text())
    assert parse_chain(record["effect"]["spec"]) == parse_chain(spec)
    assert (
        record["sources"][0]["input"] == "input/clean.wav"
        and len(record["sources"][0]["sha256"]) == 64
    )
    expected = parse_chain(spec)(noise(1.0), SR)
    assert np.allclose(sf.read(wav, dtype="float32")[0], expected)
    with pytest.raises(DatasetError, match="already exists; pass --force"):
        make_outputs(tmp_path, "softclip", name="drive")
    make_outputs(tmp_path, "softclip", name="drive", force=True)
    assert json.loads(meta.read_text())["effect"]["spec"] == "softclip(drive_db=12.0)"
    assert find_pairs(tmp_path, "drive")[0].output_path == wav


def test_data_make_knob_renders_one_output_per_value(tmp_path):
    write_wav(tmp_path / "input" / "clean.wav", noise(0.5))
    written = make_outputs(tmp_path, "highpass | softclip", name="sc", knob="drive_db=0:30:7")
    wavs = sorted(p.name for p in written if p.suffix == ".wav")
    assert len(wavs) == 7 and "sc_drive_db=15.wav" in wavs
    record = json.loads((tmp_path / "output" / "sc_drive_db=15.json").read_text())
    assert record["knob"]["value"] == 15.0 and record["knob"]["values"][-1] == 30.0
    assert record["effect"]["chain"][1]["drive_db"] == 15.0
    with pytest.raises(EffectError, match="outside"):
        make_outputs(tmp_path, "softclip", name="bad", knob="drive_db=0:100:3")
    with pytest.raises(EffectError, match="valid: highpass.cutoff_hz"):
        make_outputs(tmp_path, "highpass | softclip", name="bad", knob="drive=0:1:2")


def test_data_make_with_several_inputs_pairs_by_folder(tmp_path):
    for stem in ("a", "b"):
        write_wav(tmp_path / "input" / f"{stem}.wav", noise(0.5, seed=ord(stem)))
    make_outputs(tmp_path, "softclip", name="sc")
    pairs = find_pairs(tmp_path, "sc")
    assert [(p.input_path.name, p.output_path.relative_to(tmp_path).as_posix()) for p in pairs] == [
        ("a.wav", "output/sc/a.wav"),
        ("b.wav", "output/sc/b.wav"),
    ]
    assert len(json.loads((tmp_path / "output" / "sc.json").read_text())["sources"]) == 2
