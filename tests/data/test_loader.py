"""The one dataset loader: every consumer (train, analysis, report) sees the same samples."""

import json

import numpy as np
import pytest
import soundfile as sf
from utils import delayed, fast_config, noise, write_raw_pair

import neuralfx
from neuralfx.audio import resample
from neuralfx.cli import main
from neuralfx.data import dataset_for, load_dataset, read_sidecar
from neuralfx.data.make import make_outputs
from neuralfx.errors import AudioError, DatasetError
from neuralfx.export import load_model
from neuralfx.losses import esr
from neuralfx.render import render_array

SR = 44100


def test_split_is_by_time_without_overlap_and_keeps_the_rate(tmp_path):
    x = noise(10.0)
    write_raw_pair(tmp_path, x, 0.5 * x)
    data = load_dataset(tmp_path, fractions=(0.5, 0.25, 0.25))
    s = data.split
    assert (len(s.train_x), len(s.val_x), len(s.test_x)) == (5 * SR, 2.5 * SR, 2.5 * SR)
    assert np.array_equal(np.concatenate([s.train_x, s.val_x, s.test_x]), x)
    assert np.allclose(s.test_y, 0.5 * s.test_x) and data.sample_rate_hz == SR


def test_the_loader_aligns_and_records_the_latency(tmp_path):
    x = noise(6.0)
    write_raw_pair(tmp_path, x, delayed(0.5 * x, 40))
    assert load_dataset(tmp_path).latency_samples == 0  # a lag is learnt unless aligned
    data = load_dataset(tmp_path, align=True)
    assert data.latency_samples == 40
    assert np.allclose(data.split.train_y, 0.5 * data.split.train_x)


def test_too_short_audio_for_one_segment_is_refused(tmp_path):
    write_raw_pair(tmp_path, noise(0.2), noise(0.2))
    with pytest.raises(DatasetError, match="too short to train"):
        load_dataset(tmp_path, min_train_samples=SR)


def test_analysis_scores_the_very_samples_training_scored(tmp_path):
    """A 48 kHz pair trained with --resample and a late output trained with --align: the
    test ESR recomputed through the loader from the run's config.json is the one training
    reported, to float32 rounding."""
    x = noise(8.0)
    y = delayed(np.tanh(2 * x), 25)
    write_raw_pair(tmp_path, resample(x, SR, 48000), resample(y, SR, 48000), 48000, 48000)
    result = neuralfx.train(fast_config(tmp_path, max_epochs=2, resample=True, align=True))
    cfg = neuralfx.config.load_config(result.run_dir / "config.json")
    split = dataset_for(cfg).split
    model, meta = load_model(result.model_path)
    # the same samples and the same model; the fused kernels' float32 sums may round apart
    # between a batched and a single render on some CPUs (seen at 1e-11 relative)
    assert esr(split.test_y, render_array(model, split.test_x)) == pytest.approx(
        result.test_esr, rel=1e-7
    )
    assert meta["sample_rate_hz"] == split.sample_rate_hz == SR
    assert meta["latency_samples"] == 25  # removed, recorded for the plugin to report


def test_analysis_scores_each_knob_setting_as_training_did(knob_run, capsys):
    """A knob run's analysis (as `neuralfx report` makes it) rescores from model.json and
    config.json alone: every setting's test ESR (the held-out one included) and the trained
    settings' together are training's to the last digit; the held-out ESR is its setting's."""
    assert main(["report", str(knob_run.run_dir)]) == 0, capsys.readouterr().err
    analysis = json.loads((knob_run.run_dir / "analysis.json").read_text())
    result = json.loads((knob_run.run_dir / "result.json").read_text())
    assert analysis["settings"] == result["settings"] == list(knob_run.settings)
    assert analysis["seen_test_esr"] == result["test_esr"] == knob_run.test_esr
    held = [s for s in result["settings"] if s["holdout"]]
    assert [s["label"] for s in held] == ["drive_db=16"]
    assert analysis["holdout_esr"] == pytest.approx(held[0]["test_esr"], rel=1e-6)
    # the four settings' test blocks scored as one carried-state block would not agree
    split = dataset_for(neuralfx.config.load_config(knob_run.run_dir / "config.json")).split
    model, _ = load_model(knob_run.model_path)
    assert esr(split.test_y, render_array(model, split.test_x)) != knob_run.test_esr


def test_a_48k_dataset_trains_at_48k_and_its_model_refuses_44k_audio(tmp_path, capsys):
    assert (
        main(
            [
                "init",
                str(tmp_path / "d"),
                "--effect",
                "softclip",
                "--duration",
                "3",
                "--sample-rate",
                "48000",
            ]
        )
        == 0
    )
    d = tmp_path / "d"
    assert sf.info(d / "input" / "clean_signal.wav").samplerate == 48000
    assert sf.info(d / "guitar.wav").samplerate == 48000
    result = neuralfx.train(fast_config(d, max_epochs=1))
    _, meta = load_model(result.model_path)
    assert meta["sample_rate_hz"] == 48000
    sf.write(tmp_path / "in44.wav", noise(0.5), SR, subtype="FLOAT")
    capsys.readouterr()
    assert (
        main(
            ["render", str(result.model_path), str(tmp_path / "in44.wav"), str(tmp_path / "o.wav")]
        )
        == 2
    )
    assert "48000" in capsys.readouterr().err


def test_pairs_at_two_rates_name_the_file_and_the_fix(tmp_path):
    x = noise(3.0)
    write_raw_pair(tmp_path, x, resample(x, SR, 48000), SR, 48000)
    with pytest.raises(
        AudioError, match=r"fx\.wav: sample rate is 48000 Hz, the dataset's is 44100"
    ):
        load_dataset(tmp_path)
    assert load_dataset(tmp_path, sample_rate_hz=48000).sample_rate_hz == 48000


def test_report_of_a_run_trained_with_resample_on_48k_data(tmp_path, capsys):
    x = noise(6.0)
    write_raw_pair(tmp_path, resample(x, SR, 48000), resample(0.5 * x, SR, 48000), 48000, 48000)
    run = neuralfx.train(fast_config(tmp_path, max_epochs=1, resample=True)).run_dir
    assert main(["report", str(run)]) == 0, capsys.readouterr().err
    assert (run / "report.html").is_file()
    assert json.loads((run / "analysis.json").read_text())["spectrum"]["freq_hz"][-1] == SR / 2


def test_a_data_make_knob_output_gets_its_target_render(tmp_path, capsys):
    """`data make --knob` writes the effect as a chain record; the report renders the guitar
    demo through that exact setting."""
    root = tmp_path / "d"
    (root / "input").mkdir(parents=True)
    sf.write(root / "input" / "clean.wav", noise(6.0), SR, subtype="FLOAT")
    sf.write(root / "guitar.wav", noise(1.0, seed=3), SR, subtype="FLOAT")
    make_outputs(root, "softclip", name="drive", knob="drive_db=6,18")
    made = read_sidecar(root, "drive_drive_db=18")
    assert made is not None and made.knob["value"] == 18.0
    assert made.chain().stages[0].kwargs["drive_db"] == 18.0
    cfg = fast_config(root, max_epochs=1, output_name="drive_drive_db=18")
    run = neuralfx.train(cfg).run_dir
    assert main(["report", str(run)]) == 0, capsys.readouterr().err
    target, _ = sf.read(run / "guitar_target.wav", dtype="float32")
    guitar, _ = sf.read(root / "guitar.wav", dtype="float32")
    assert np.allclose(target, made.chain()(guitar, SR), atol=1e-6)
    assert 'src="guitar_target.wav"' in (run / "report.html").read_text()
