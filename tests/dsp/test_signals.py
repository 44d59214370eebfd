"""Synthesized signals: deterministic, in range, in tune, and varied in every test block."""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy.signal import hilbert

from neuralfx.dsp import signals, strings
from neuralfx.dsp.signals import clean_signal, guitar_riff, log_sweep, noise_bursts, pluck
from neuralfx.errors import ConfigError

FS = 44100


def fundamental_hz(x: np.ndarray, fs: int, near_hz: float) -> float:
    """Strongest spectral peak within a semitone of ``near_hz``, parabolically interpolated.

    Fails loudly when that peak is weak next to the strongest one, so a note an octave off
    cannot pass by matching noise in the window.
    """
    n_fft = 16 * len(x)
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x)), n_fft))
    f = np.fft.rfftfreq(n_fft, 1.0 / fs)
    window = (f > near_hz * 0.94) & (f < near_hz * 1.06)
    i = int(np.argmax(np.where(window, mag, 0.0)))
    assert mag[i] > 0.01 * mag.max(), "no fundamental near the requested pitch"
    a, b, c = np.log(mag[i - 1 : i + 2])
    return (i + 0.5 * (a - c) / (a - 2 * b + c)) * fs / n_fft


def centroid_hz(x: np.ndarray, fs: int) -> float:
    power = np.abs(np.fft.rfft(x)) ** 2
    return float(np.sum(power * np.fft.rfftfreq(len(x), 1.0 / fs)) / np.sum(power))


def envelope_db(x: np.ndarray, fs: int, window_s: float = 0.01) -> np.ndarray:
    w = int(window_s * fs)
    frames = x[: len(x) // w * w].reshape(-1, w)
    return 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-12)


@pytest.fixture(scope="module")
def full_signal() -> tuple[np.ndarray, float]:
    start = time.process_time()
    x = clean_signal()
    return x, time.process_time() - start


def test_run_loop_matches_the_per_sample_recursion():
    rng = np.random.default_rng(0)
    for delay, taps in ((35, 4), (600, 8)):  # several trips per block, and one
        h = rng.uniform(0, 1, taps)
        h *= 0.99 / h.sum()
        x = rng.standard_normal(delay + 3)
        n = 4000
        y = np.zeros(n)
        for i in range(n):
            fed_back = sum(h[j] * y[i - delay - j] for j in range(taps) if i - delay - j >= 0)
            y[i] = (x[i] if i < len(x) else 0.0) + fed_back
        np.testing.assert_allclose(strings._run_loop(x, delay, h, n), y, atol=1e-12)


@pytest.mark.parametrize("freq_hz", [82.41, 110.0, 233.08, 440.0, 987.77, 1318.51])
def test_pluck_is_in_tune(freq_hz):
    x = pluck(freq_hz, 1.0, FS, seed=2)
    cents = 1200 * np.log2(fundamental_hz(x, FS, freq_hz) / freq_hz)
    assert abs(cents) < 2.0


@pytest.mark.parametrize("freq_hz", [82.41, 220.0, 698.46])
def test_palm_muted_pluck_is_in_tune(freq_hz):
    # Palm muting puts many damping stages in the loop; their delay must be accounted for.
    x = pluck(freq_hz, 0.5, FS, palm_mute=True, seed=4)
    assert abs(1200 * np.log2(fundamental_hz(x, FS, freq_hz) / freq_hz)) < 5.0


def test_pluck_is_in_tune_at_another_rate():
    x = pluck(329.63, 1.0, 48000, seed=5)
    assert abs(1200 * np.log2(fundamental_hz(x, 48000, 329.63) / 329.63)) < 2.0


@pytest.mark.parametrize("freq_hz", [82.41, 329.63, 1318.51])
def test_hard_pick_is_louder_and_brighter(freq_hz):
    soft = pluck(freq_hz, 1.0, FS, velocity=0.1, seed=1)
    hard = pluck(freq_hz, 1.0, FS, velocity=1.0, seed=1)
    level_db = 20 * np.log10(np.max(np.abs(hard)) / np.max(np.abs(soft)))
    assert level_db == pytest.approx(0.9 * 27.0, abs=0.1)
    onset = FS // 4
    assert centroid_hz(hard[:onset], FS) > 1.2 * centroid_hz(soft[:onset], FS)
    assert np.max(np.abs(hard)) <= signals.velocity_to_peak(1.0) + 1e-9


@pytest.mark.parametrize("freq_hz", [82.41, 246.94, 659.26])
def test_palm_mute_decays_faster_and_darker(freq_hz):
    ringing = pluck(freq_hz, 2.0, FS, seed=3)
    muted = pluck(freq_hz, 2.0, FS, palm_mute=True, seed=3)

    def time_to_drop_s(x, drop_db=30.0):
        env = envelope_db(x, FS)
        top = int(np.argmax(env))
        return (top + int(np.argmax(env[top:] < env[top] - drop_db))) * 0.01

    assert time_to_drop_s(muted) < 0.5
    assert time_to_drop_s(ringing) > 3 * time_to_drop_s(muted)
    assert centroid_hz(muted[: FS // 4], FS) < centroid_hz(ringing[: FS // 4], FS)


def test_pluck_release_ends_the_note():
    x = pluck(196.0, 0.5, FS, release_s=0.05, seed=0)
    assert len(x) == round(0.55 * FS)
    assert np.max(np.abs(x[-200:])) < 2e-3 * np.max(np.abs(x))


def test_log_sweep_covers_the_range_at_the_right_rate():
    start_hz, end_hz, duration_s = 20.0, 20000.0, 2.0
    x = log_sweep(start_hz, end_hz, duration_s, FS, level_db=-12.0)
    assert len(x) == round(duration_s * FS)
    assert np.max(np.abs(x)) == pytest.approx(10 ** (-12 / 20), rel=1e-3)
    phase = np.unwrap(np.angle(hilbert(x)))
    inst_hz = np.diff(phase) * FS / (2 * np.pi)
    for frac in (0.05, 0.25, 0.5, 0.75, 0.95):
        i = int(frac * len(x))
        expected = start_hz * (end_hz / start_hz) ** (i / len(x))
        measured = np.median(inst_hz[i - 50 : i + 50])
        assert measured == pytest.approx(expected, rel=0.02)


def test_log_sweep_refuses_frequencies_above_nyquist():
    with pytest.raises(ConfigError, match="end_hz"):
        log_sweep(20.0, 20000.0, 1.0, 32000)


def test_noise_bursts_step_through_their_levels():
    levels = [-40.0, -6.0, -20.0]
    x = noise_bursts(levels, 0.1, FS, "white", seed=0)
    bursts = x.reshape(3, -1)[:, 400:-400]  # away from the 5 ms fades
    assert 20 * np.log10(np.max(np.abs(bursts), axis=1)) == pytest.approx(levels, abs=1.0)


def test_pink_noise_is_darker_than_white():
    def low_to_high(color):
        power = np.abs(np.fft.rfft(noise_bursts([-6.0], 1.0, FS, color, seed=1))) ** 2
        f = np.fft.rfftfreq(FS, 1.0 / FS)
        return power[(f > 50) & (f < 500)].sum() / power[(f > 5000) & (f < 20000)].sum()

    assert low_to_high("pink") > 10 * low_to_high("white")


def test_clean_signal_is_deterministic_per_seed():
    a = clean_signal(seed=3, duration_s=8.0)
    assert np.array_equal(a, clean_signal(seed=3, duration_s=8.0))
    assert not np.allclose(a, clean_signal(seed=4, duration_s=8.0))


@pytest.mark.parametrize("duration_s, rate_hz", [(7.3, 44100), (5.0, 48000), (3.0, 22050)])
def test_clean_signal_shape_and_range(duration_s, rate_hz):
    x = clean_signal(seed=1, duration_s=duration_s, sample_rate_hz=rate_hz)
    assert x.shape == (round(duration_s * rate_hz),) and x.dtype == np.float32
    assert np.all(np.isfinite(x))
    assert 0.01 < np.max(np.abs(x)) <= 0.99


def test_clean_signal_refuses_bad_arguments():
    with pytest.raises(ConfigError, match="duration_s"):
        clean_signal(duration_s=0.0)


def test_full_clean_signal_is_fast_and_bounded(full_signal):
    x, cpu_s = full_signal
    assert x.shape == (180 * FS,) and x.dtype == np.float32
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) <= 0.99
    assert cpu_s < 15.0  # about 1 s when vectorised; a per-sample loop takes minutes


def test_every_tenth_is_varied(full_signal):
    """The 80/10/10 split by time: each tenth has silence, levels, and a full spectrum."""
    x, _ = full_signal
    octave_lows_hz = 40.0 * 2.0 ** np.arange(9)  # 40 Hz .. 20 kHz
    for block in np.array_split(x.astype(np.float64), 10):
        assert 20 * np.log10(np.sqrt(np.mean(block**2))) > -40.0
        zero = np.concatenate([[0], (block == 0).astype(np.int8), [0]])
        edges = np.flatnonzero(np.diff(zero))
        longest_silence_s = np.max(edges[1::2] - edges[::2], initial=0) / FS
        assert longest_silence_s >= 0.05
        peaks_db = envelope_db(block, FS, 0.05)
        sounding = peaks_db[peaks_db > -100]
        assert np.percentile(sounding, 95) - np.percentile(sounding, 5) > 20.0
        power = np.abs(np.fft.rfft(block)) ** 2
        f = np.fft.rfftfreq(len(block), 1.0 / FS)
        bands = np.array([power[(f >= lo) & (f < 2 * lo)].sum() for lo in octave_lows_hz])
        assert np.all(10 * np.log10(bands / bands.max()) > -30.0)


def test_guitar_riff_is_a_deterministic_e_riff():
    x = guitar_riff(seed=1, duration_s=4.0)
    assert x.shape == (4 * FS,) and x.dtype == np.float32
    assert np.max(np.abs(x)) == pytest.approx(0.8, abs=1e-6)
    assert np.array_equal(x, guitar_riff(seed=1, duration_s=4.0))
    assert not np.allclose(x, guitar_riff(seed=2, duration_s=4.0))
    assert fundamental_hz(x.astype(np.float64), FS, 82.41) == pytest.approx(82.41, rel=0.01)
