import json

import numpy as np
import pytest
import soundfile as sf

from neuralfx.audio import write_wav
from neuralfx.chains import parse_chain
from neuralfx.cli import main
from neuralfx.data import find_pairs
from neuralfx.datacheck import check_dataset, plot_report, resample
from neuralfx.datamake import make_outputs
from neuralfx.errors import AudioError, DatasetError, EffectError
from neuralfx.latency import estimate_latency

SR = 44100


def plucks(seconds: float, seed: int = 0) -> np.ndarray:
    """Music-like test input: decaying harmonic notes with random pitches and phases."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    x, t = np.zeros(n), 0
    while t < n:
        length = min(n - t, int(SR * rng.uniform(0.2, 0.8)))
        k = np.arange(length)
        f0 = rng.uniform(80, 600)
        note = sum(np.sin(2 * np.pi * f0 * h * k / SR + rng.uniform(0, 6)) / h for h in range(1, 8))
        x[t : t + length] += 0.3 * note * np.exp(-k / (0.3 * SR))
        t += length
    return x.astype(np.float32)


def noise(seconds: float, seed: int = 0, level: float = 0.3) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(
        np.float32
    )


def delayed(x: np.ndarray, samples: int) -> np.ndarray:
    return np.concatenate([np.zeros(samples, np.float32), x[: len(x) - samples]])


def dataset(root, x, y, rate_x=SR, rate_y=SR, name="fx"):
    """Write a pair as float wavs (so NaN and >1 values survive), bypassing write_wav's checks."""
    for folder, audio, rate in (("input", x, rate_x), ("output", y, rate_y)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        sf.write(root / folder / f"{name}.wav", audio, rate, subtype="FLOAT")
    return root


@pytest.mark.parametrize("signal_kind", ["noise", "plucks"])
@pytest.mark.parametrize(
    "effect", ["", "softclip(drive_db=24)", "hardclip(drive_db=30)", "lowpass(cutoff_hz=800)"]
)
def test_latency_is_exact_for_0_7_300_samples(signal_kind, effect):
    x = noise(4.0) if signal_kind == "noise" else plucks(6.0)
    chain = parse_chain(effect) if effect else None
    for lag in (0, 7, 300):
        y = delayed(x, lag)
        y = chain(y, SR) if chain else y
        assert estimate_latency(x, y) == lag, (effect, lag)


def test_latency_of_an_output_that_leads_is_negative():
    x = noise(3.0)
    assert estimate_latency(x, np.concatenate([x[5:], np.zeros(5, np.float32)])) == -5


def test_latency_is_none_without_a_linear_relation():
    assert estimate_latency(noise(3.0, seed=1), noise(3.0, seed=2)) is None


def test_resampling_48k_keeps_a_1khz_tone():
    tone = np.sin(2 * np.pi * 1000.0 * np.arange(48000 * 2) / 48000).astype(np.float32)
    y = resample(tone, 48000)
    assert len(y) == 2 * SR
    spectrum = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak_hz = np.argmax(spectrum) * SR / len(y)
    assert abs(peak_hz - 1000.0) <= 1.0


def test_clean_pair_is_ok_and_returns_aligned_arrays(tmp_path):
    x = noise(11.0)
    dataset(tmp_path, x, 0.5 * x)
    report = check_dataset(tmp_path)
    assert report.pairs[0].verdict == "ok" and not report.all_warnings
    ((ax, ay),) = report.arrays
    assert np.allclose(ay, 0.5 * ax)


def test_other_rate_is_an_error_unless_resample(tmp_path):
    x = noise(2.0)
    y48 = resample(0.5 * x, SR, 48000)
    dataset(tmp_path, x, y48, rate_y=48000)
    with pytest.raises(AudioError, match="48000 Hz.*--resample"):
        check_dataset(tmp_path)
    report = check_dataset(tmp_path, resample=True)
    ((ax, ay),) = report.arrays
    assert abs(len(ay) - len(x)) <= 1 and report.pairs[0].latency_samples == 0
    assert np.corrcoef(ax[1000:-1000], ay[1000:-1000])[0, 1] > 0.99


def test_stereo_uses_first_channel_and_says_so_once(tmp_path):
    x = noise(2.0)
    dataset(tmp_path, np.stack([x, -x], axis=1), np.stack([0.5 * x, x], axis=1))
    report = check_dataset(tmp_path)
    notes = [w for w in report.warnings if "first channel" in w]
    assert len(notes) == 1 and "2 file(s)" in notes[0]
    assert np.allclose(report.arrays[0][1], 0.5 * report.arrays[0][0])


def test_small_length_difference_is_trimmed_large_is_an_error(tmp_path):
    x = noise(2.0)
    dataset(tmp_path, x, np.concatenate([x, np.zeros(2000, np.float32)]))
    report = check_dataset(tmp_path)
    assert report.pairs[0].trimmed_samples == 2000 and len(report.arrays[0][1]) == len(x)
    dataset(tmp_path, x, np.concatenate([x, np.zeros(SR, np.float32)]))
    with pytest.raises(DatasetError, match="differ by more than 100 ms"):
        check_dataset(tmp_path)


def test_silent_output_is_an_error(tmp_path):
    dataset(tmp_path, noise(2.0), np.zeros(2 * SR, np.float32))
    with pytest.raises(AudioError, match="silent"):
        check_dataset(tmp_path)


def test_nan_output_is_an_error_naming_the_sample(tmp_path):
    y = noise(2.0)
    y[1234] = np.nan
    dataset(tmp_path, noise(2.0), y)
    with pytest.raises(AudioError, match="NaN.*sample 1234"):
        check_dataset(tmp_path)


def test_heavy_clipping_and_short_audio_are_warnings_with_their_cost(tmp_path):
    x = noise(3.0)
    dataset(tmp_path, x, np.clip(4 * x, -1, 1))
    report = check_dataset(tmp_path)
    text = " ".join(report.all_warnings)
    assert "% of samples at full scale" in text
    assert "only 3.0 s of audio" in text and "overfit" in text
    assert report.pairs[0].output.clipped_samples > 0.01 * len(x)


def test_delayed_output_is_refused_unless_aligned_or_given(tmp_path):
    x = noise(3.0)
    dataset(tmp_path, x, delayed(0.5 * x, 300))
    with pytest.raises(DatasetError, match="lags its input by 300 samples.*--align"):
        check_dataset(tmp_path)
    for report in (
        check_dataset(tmp_path, align=True),
        check_dataset(tmp_path, latency_samples=300),
    ):
        ((ax, ay),) = report.arrays
        assert report.pairs[0].shift_samples == 300 and len(ax) == len(x) - 300
        assert np.allclose(ay, 0.5 * ax)
    small = check_dataset(dataset(tmp_path, x, delayed(0.5 * x, 3)))
    assert small.pairs[0].latency_samples == 3 and small.pairs[0].shift_samples == 0


def test_plot_writes_check_png(tmp_path):
    x = noise(2.0)
    dataset(tmp_path, x, np.tanh(3 * x))
    path = plot_report(check_dataset(tmp_path))
    assert path == tmp_path / "check.png" and path.read_bytes()[:4] == b"\x89PNG"


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
    dataset(tmp_path, noise(2.0), delayed(noise(2.0), 300), name="clean")
    capsys.readouterr()
    assert main(["data", "check", str(tmp_path), "--output", "clean"]) == 2
    captured = capsys.readouterr()
    assert "lags its input by 300" in captured.err and captured.err.count("\n") == 1
    assert main(["data", "check", str(tmp_path), "--output", "clean", "--align"]) == 0


def test_effects_lists_the_catalogue(capsys):
    assert main(["effects"]) == 0
    out = capsys.readouterr().out
    assert "lowpass" in out and "cutoff_hz=1000.0 (10..20000 Hz)" in out and "vst3:" in out
