"""Dataset checks: rates, channels, lengths, levels, clipping, latency, and their errors."""

import numpy as np
import pytest
from utils import delayed, noise, write_raw_pair

from neuralfx.audio import resample, write_wav
from neuralfx.cli import main
from neuralfx.data.check import check_dataset
from neuralfx.data.view import plot_report
from neuralfx.errors import AudioError, DatasetError

SR = 44100


def test_clean_pair_is_ok_and_returns_aligned_arrays(tmp_path):
    x = noise(11.0)
    write_raw_pair(tmp_path, x, 0.5 * x)
    report = check_dataset(tmp_path)
    assert report.pairs[0].verdict == "ok" and not report.all_warnings
    ((ax, ay),) = report.arrays
    assert np.allclose(ay, 0.5 * ax)


def test_other_rate_is_an_error_unless_resample(tmp_path):
    x = noise(2.0)
    y48 = resample(0.5 * x, SR, 48000)
    write_raw_pair(tmp_path, x, y48, rate_y=48000)
    with pytest.raises(AudioError, match="48000 Hz.*--sample-rate 44100"):
        check_dataset(tmp_path)
    report = check_dataset(tmp_path, sample_rate_hz=44100)
    ((ax, ay),) = report.arrays
    assert abs(len(ay) - len(x)) <= 1 and report.pairs[0].latency_samples == 0
    assert np.corrcoef(ax[1000:-1000], ay[1000:-1000])[0, 1] > 0.99


def test_stereo_uses_first_channel_and_says_so_once(tmp_path):
    x = noise(2.0)
    write_raw_pair(tmp_path, np.stack([x, -x], axis=1), np.stack([0.5 * x, x], axis=1))
    report = check_dataset(tmp_path)
    notes = [w for w in report.warnings if "first channel" in w]
    assert len(notes) == 1 and "2 file(s)" in notes[0]
    assert np.allclose(report.arrays[0][1], 0.5 * report.arrays[0][0])


def test_small_length_difference_is_trimmed_large_is_an_error(tmp_path):
    x = noise(2.0)
    write_raw_pair(tmp_path, x, np.concatenate([x, np.zeros(2000, np.float32)]))
    report = check_dataset(tmp_path)
    assert report.pairs[0].trimmed_samples == 2000 and len(report.arrays[0][1]) == len(x)
    write_raw_pair(tmp_path, x, np.concatenate([x, np.zeros(SR, np.float32)]))
    with pytest.raises(DatasetError, match="differ by more than 100 ms"):
        check_dataset(tmp_path)


def test_silent_output_is_an_error(tmp_path):
    write_raw_pair(tmp_path, noise(2.0), np.zeros(2 * SR, np.float32))
    with pytest.raises(AudioError, match="silent"):
        check_dataset(tmp_path)


def test_nan_output_is_an_error_naming_the_sample(tmp_path):
    y = noise(2.0)
    y[1234] = np.nan
    write_raw_pair(tmp_path, noise(2.0), y)
    with pytest.raises(AudioError, match="NaN.*sample 1234"):
        check_dataset(tmp_path)


def test_heavy_clipping_and_short_audio_are_warnings_with_their_cost(tmp_path):
    x = noise(3.0)
    write_raw_pair(tmp_path, x, np.clip(4 * x, -1, 1))
    report = check_dataset(tmp_path)
    text = " ".join(report.all_warnings)
    assert "% of samples at full scale" in text
    assert "only 3.0 s of audio" in text and "overfit" in text
    assert report.pairs[0].output.clipped_samples > 0.01 * len(x)


def test_a_lag_is_a_warning_with_its_size_and_a_lead_an_error(tmp_path):
    x = noise(3.0)
    write_raw_pair(tmp_path, x, delayed(0.5 * x, 300))
    lagging = check_dataset(tmp_path)  # a causal model can learn a lag
    assert lagging.pairs[0].shift_samples == 0
    assert any(
        "lags its input by 300 samples (6.80 ms)" in w and "--align" in w
        for w in lagging.all_warnings
    )
    write_raw_pair(tmp_path, delayed(x, 300), 0.5 * x)
    with pytest.raises(DatasetError, match="leads its input by 300 samples.*--align"):
        check_dataset(tmp_path)
    leading = check_dataset(tmp_path, align=True)
    assert leading.pairs[0].shift_samples == -300
    ((ax, ay),) = leading.arrays
    assert np.allclose(ay, 0.5 * ax)


def test_a_lag_is_removed_by_align_or_latency(tmp_path):
    x = noise(3.0)
    write_raw_pair(tmp_path, x, delayed(0.5 * x, 300))
    for report in (
        check_dataset(tmp_path, align=True),
        check_dataset(tmp_path, latency_samples=300),
    ):
        ((ax, ay),) = report.arrays
        assert report.pairs[0].shift_samples == 300 and len(ax) == len(x) - 300
        assert np.allclose(ay, 0.5 * ax)
    small = check_dataset(write_raw_pair(tmp_path, x, delayed(0.5 * x, 3)))
    assert small.pairs[0].latency_samples == 3 and small.pairs[0].shift_samples == 0


def test_plot_writes_check_png(tmp_path):
    x = noise(2.0)
    write_raw_pair(tmp_path, x, np.tanh(3 * x))
    path = plot_report(check_dataset(tmp_path))
    assert path == tmp_path / "check.png" and path.read_bytes()[:4] == b"\x89PNG"


def test_cli_errors_are_one_line_with_exit_code_2(tmp_path, capsys):
    write_wav(tmp_path / "input" / "clean.wav", noise(0.5))
    assert main(["data", "make", str(tmp_path), "--effect", "softclip", "--name", "s"]) == 0
    for argv, fragment in [
        (["data", "make", str(tmp_path), "--effect", "softclip", "--name", "s"], "--force"),
        (["data", "make", str(tmp_path), "--effect", "softclp"], "unknown effect"),
        (["effects", "--plugin", str(tmp_path / "X.vst3")], "X.vst3"),
    ]:
        capsys.readouterr()
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert fragment in err and err.count("\n") == 1 and "Traceback" not in err
    write_raw_pair(tmp_path, delayed(noise(2.0), 300), noise(2.0), name="clean")
    capsys.readouterr()
    assert main(["data", "check", str(tmp_path), "--output", "clean"]) == 2
    captured = capsys.readouterr()
    assert "leads its input by 300" in captured.err and captured.err.count("\n") == 1
    assert main(["data", "check", str(tmp_path), "--output", "clean", "--align"]) == 0


def test_effects_lists_the_catalogue(capsys):
    assert main(["effects"]) == 0
    out = capsys.readouterr().out
    assert "lowpass" in out and "cutoff_hz=1000.0 (10..20000 Hz)" in out and "vst3:" in out
