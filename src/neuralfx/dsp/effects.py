"""The built-in effects: pure functions ``fx(audio, sample_rate_hz, **params) -> audio``.

Every effect takes a 1-D float32 array and returns a float32 array of the same length. They are
deterministic: pedalboard processors are built fresh for every call, so no state (reverb tails,
LFO phase, envelope followers) leaks from one render into the next. Each registers itself in
the catalogue (``catalogue.py``) with its family and any parameter range of its own.
"""

from __future__ import annotations

import math

import numpy as np
import pedalboard as pb
from scipy import signal

from ..errors import EffectError
from .catalogue import register
from .levels import db_to_gain


def _nyquist_check(name: str, freq_hz: float, sample_rate_hz: float) -> None:
    if freq_hz >= 0.49 * sample_rate_hz:
        raise EffectError(
            f"{name}={freq_hz:g} Hz is too close to Nyquist ({sample_rate_hz / 2:g} "
            f"Hz at {sample_rate_hz:g} Hz); lower it"
        )


def biquad_sos(
    kind: str, freq_hz: float, sample_rate_hz: float, q: float, gain_db: float = 0.0
) -> np.ndarray:
    """RBJ Audio-EQ-Cookbook biquad as a (1, 6) second-order section for ``sosfilt``."""
    _nyquist_check(
        "cutoff_hz" if "pass" in kind or "shelf" in kind else "centre_hz", freq_hz, sample_rate_hz
    )
    w0 = 2.0 * math.pi * freq_hz / sample_rate_hz
    cw, alpha = math.cos(w0), math.sin(w0) / (2.0 * q)
    a = 10.0 ** (gain_db / 40.0)
    sa = 2.0 * math.sqrt(a) * alpha
    if kind == "lowpass":
        b, den = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2], [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "highpass":
        b, den = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2], [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "bandpass":
        b, den = [alpha, 0.0, -alpha], [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "peaking":
        b = [1 + alpha * a, -2 * cw, 1 - alpha * a]
        den = [1 + alpha / a, -2 * cw, 1 - alpha / a]
    elif kind == "lowshelf":
        b = [
            a * ((a + 1) - (a - 1) * cw + sa),
            2 * a * ((a - 1) - (a + 1) * cw),
            a * ((a + 1) - (a - 1) * cw - sa),
        ]
        den = [
            (a + 1) + (a - 1) * cw + sa,
            -2 * ((a - 1) + (a + 1) * cw),
            (a + 1) + (a - 1) * cw - sa,
        ]
    elif kind == "highshelf":
        b = [
            a * ((a + 1) + (a - 1) * cw + sa),
            -2 * a * ((a - 1) + (a + 1) * cw),
            a * ((a + 1) + (a - 1) * cw - sa),
        ]
        den = [
            (a + 1) - (a - 1) * cw + sa,
            2 * ((a - 1) - (a + 1) * cw),
            (a + 1) - (a - 1) * cw - sa,
        ]
    else:
        raise EffectError(f"unknown biquad kind {kind!r}")
    return np.array([b + den], dtype=np.float64) / den[0]


def _biquad(audio: np.ndarray, sos: np.ndarray) -> np.ndarray:
    return signal.sosfilt(sos, audio.astype(np.float64)).astype(np.float32)


@register("filter")
def lowpass(audio, sample_rate_hz, cutoff_hz=1000.0, q=0.7071):
    """12 dB/octave low-pass biquad (RBJ cookbook); q=0.7071 is Butterworth."""
    return _biquad(audio, biquad_sos("lowpass", cutoff_hz, sample_rate_hz, q))


@register("filter")
def highpass(audio, sample_rate_hz, cutoff_hz=1000.0, q=0.7071):
    """12 dB/octave high-pass biquad (RBJ cookbook); q=0.7071 is Butterworth."""
    return _biquad(audio, biquad_sos("highpass", cutoff_hz, sample_rate_hz, q))


@register("filter")
def bandpass(audio, sample_rate_hz, centre_hz=1000.0, q=1.0):
    """Band-pass biquad with 0 dB gain at centre_hz."""
    return _biquad(audio, biquad_sos("bandpass", centre_hz, sample_rate_hz, q))


@register("filter")
def peaking(audio, sample_rate_hz, centre_hz=1000.0, gain_db=6.0, q=1.0):
    """Peaking EQ biquad: gain_db at centre_hz, bandwidth set by q."""
    return _biquad(audio, biquad_sos("peaking", centre_hz, sample_rate_hz, q, gain_db))


@register("filter")
def lowshelf(audio, sample_rate_hz, cutoff_hz=200.0, gain_db=6.0, q=0.7071):
    """Low-shelf biquad: gain_db below cutoff_hz (half of it at cutoff_hz)."""
    return _biquad(audio, biquad_sos("lowshelf", cutoff_hz, sample_rate_hz, q, gain_db))


@register("filter")
def highshelf(audio, sample_rate_hz, cutoff_hz=4000.0, gain_db=6.0, q=0.7071):
    """High-shelf biquad: gain_db above cutoff_hz (half of it at cutoff_hz)."""
    return _biquad(audio, biquad_sos("highshelf", cutoff_hz, sample_rate_hz, q, gain_db))


@register("filter", q=(2.0, 40.0))
def resonant(audio, sample_rate_hz, cutoff_hz=1000.0, q=8.0):
    """Resonant low-pass biquad: a peak of q (in linear gain) at cutoff_hz."""
    return _biquad(audio, biquad_sos("lowpass", cutoff_hz, sample_rate_hz, q))


@register("filter", drive_db=(0.0, 24.0))
def ladder(audio, sample_rate_hz, cutoff_hz=1000.0, resonance=0.5, drive_db=0.0):
    """Moog-style 24 dB/octave ladder low-pass (pedalboard.LadderFilter)."""
    _nyquist_check("cutoff_hz", cutoff_hz, sample_rate_hz)
    return _pedal(
        pb.LadderFilter(
            mode=pb.LadderFilter.Mode.LPF24,
            cutoff_hz=cutoff_hz,
            resonance=resonance,
            drive=db_to_gain(drive_db),
        ),
        audio,
        sample_rate_hz,
    )


@register("nonlinear")
def softclip(audio, sample_rate_hz, drive_db=12.0):
    """tanh saturation, scaled by 1/tanh(drive) so a full-scale input stays at full scale."""
    g = db_to_gain(drive_db)
    return (np.tanh(g * audio.astype(np.float64)) / math.tanh(g)).astype(np.float32)


@register("nonlinear")
def hardclip(audio, sample_rate_hz, drive_db=12.0):
    """Gain then a hard clip at +-1 (odd-symmetric, bounded)."""
    return np.clip(db_to_gain(drive_db) * audio, -1.0, 1.0).astype(np.float32)


@register("nonlinear")
def diode(audio, sample_rate_hz, drive_db=12.0, asymmetry=2.0):
    """Asymmetric diode clipper: negative half clips asymmetry times higher (1 vs 2 diodes).

    Output is divided by asymmetry so the larger (negative) peak stays within +-1.
    """
    u = db_to_gain(drive_db) * audio.astype(np.float64)
    y = np.where(u >= 0.0, np.tanh(u), asymmetry * np.tanh(u / asymmetry))
    return (y / asymmetry).astype(np.float32)


@register("nonlinear", drive_db=(0.0, 60.0))
def fuzz(audio, sample_rate_hz, drive_db=30.0, bias=0.2):
    """Biased high-gain tanh (even harmonics, gated-sounding), then a 20 Hz DC blocker."""
    u = db_to_gain(drive_db) * audio.astype(np.float64) + bias
    y = (np.tanh(u) - math.tanh(bias)) / (1.0 + abs(math.tanh(bias)))
    sos = signal.butter(1, 20.0, "highpass", fs=sample_rate_hz, output="sos")
    return signal.sosfilt(sos, y).astype(np.float32)


@register("nonlinear")
def bitcrush(audio, sample_rate_hz, bits=8, downsample=1):
    """Quantise [-1, 1] to exactly 2**bits levels; hold every downsample-th sample."""
    levels = 2**bits - 1
    x = np.clip(audio.astype(np.float64), -1.0, 1.0)
    if downsample > 1:
        x = np.repeat(x[::downsample], downsample)[: len(x)]
    return (np.round((x + 1.0) * 0.5 * levels) / levels * 2.0 - 1.0).astype(np.float32)


@register("nonlinear", drive_db=(0.0, 36.0))
def wavefold(audio, sample_rate_hz, drive_db=12.0):
    """Triangle wavefolder: gain, then reflect at +-1 instead of clipping."""
    t = (db_to_gain(drive_db) * audio.astype(np.float64) + 1.0) / 4.0
    return (4.0 * np.abs(t - np.floor(t + 0.5)) - 1.0).astype(np.float32)


@register("nonlinear")
def distortion(audio, sample_rate_hz, drive_db=25.0):
    """pedalboard.Distortion: gain then tanh, no output normalisation."""
    return _pedal(pb.Distortion(drive_db=drive_db), audio, sample_rate_hz)


@register("nonlinear", threshold_db=(-60.0, 0.0))
def clipping(audio, sample_rate_hz, threshold_db=-6.0):
    """pedalboard.Clipping: hard clip at threshold_db, no make-up gain."""
    return _pedal(pb.Clipping(threshold_db=threshold_db), audio, sample_rate_hz)


@register("dynamics", threshold_db=(-60.0, 0.0))
def compressor(
    audio,
    sample_rate_hz,
    threshold_db=-20.0,
    ratio=4.0,
    attack_ms=1.0,
    release_ms=100.0,
    makeup_db=0.0,
):
    """pedalboard.Compressor, then makeup_db of gain."""
    fx = pb.Compressor(
        threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms, release_ms=release_ms
    )
    return _pedal(fx, audio, sample_rate_hz) * np.float32(db_to_gain(makeup_db))


@register("dynamics", threshold_db=(-60.0, 0.0))
def limiter(audio, sample_rate_hz, threshold_db=-10.0, release_ms=100.0):
    """pedalboard.Limiter: limit at threshold_db, then -threshold_db of make-up (peaks at 0 dBFS)."""
    return _pedal(
        pb.Limiter(threshold_db=threshold_db, release_ms=release_ms), audio, sample_rate_hz
    )


@register("dynamics")
def gate(audio, sample_rate_hz, threshold_db=-40.0, ratio=10.0, attack_ms=1.0, release_ms=100.0):
    """pedalboard.NoiseGate: attenuates what falls below threshold_db."""
    return _pedal(
        pb.NoiseGate(
            threshold_db=threshold_db, ratio=ratio, attack_ms=attack_ms, release_ms=release_ms
        ),
        audio,
        sample_rate_hz,
    )


@register("time", feedback=(-0.95, 0.95))
def chorus(
    audio, sample_rate_hz, rate_hz=1.0, depth=0.25, centre_delay_ms=7.0, feedback=0.0, mix=0.5
):
    """pedalboard.Chorus (LFO starts at the same phase on every call)."""
    return _pedal(
        pb.Chorus(
            rate_hz=rate_hz,
            depth=depth,
            centre_delay_ms=centre_delay_ms,
            feedback=feedback,
            mix=mix,
        ),
        audio,
        sample_rate_hz,
    )


@register("time", feedback=(-0.95, 0.95), centre_hz=(50.0, 10000.0))
def phaser(audio, sample_rate_hz, rate_hz=1.0, depth=0.5, centre_hz=1300.0, feedback=0.0, mix=0.5):
    """pedalboard.Phaser."""
    return _pedal(
        pb.Phaser(
            rate_hz=rate_hz, depth=depth, centre_frequency_hz=centre_hz, feedback=feedback, mix=mix
        ),
        audio,
        sample_rate_hz,
    )


@register("time", delay_ms=(1.0, 5000.0))
def delay(audio, sample_rate_hz, delay_ms=250.0, feedback=0.3, mix=0.5):
    """pedalboard.Delay: echoes every delay_ms; the tail past the input's end is cut."""
    return _pedal(
        pb.Delay(delay_seconds=delay_ms / 1000.0, feedback=feedback, mix=mix), audio, sample_rate_hz
    )


@register("time")
def reverb(audio, sample_rate_hz, room_size=0.5, damping=0.5, wet_level=0.33, dry_level=0.4):
    """pedalboard.Reverb (Freeverb); the tail past the input's end is cut."""
    return _pedal(
        pb.Reverb(room_size=room_size, damping=damping, wet_level=wet_level, dry_level=dry_level),
        audio,
        sample_rate_hz,
    )


@register("preset", drive_db=(0.0, 48.0), cabinet_hz=(2000.0, 8000.0))
def amp(
    audio,
    sample_rate_hz,
    drive_db=24.0,
    bass_db=0.0,
    mid_db=0.0,
    treble_db=0.0,
    cabinet_hz=4500.0,
    level_db=-6.0,
):
    """Amp-like chain: 80 Hz high-pass, asymmetric drive, bass/mid/treble EQ, cabinet low-pass.

    The cabinet is two cascaded biquads (24 dB/octave) plus a 100 Hz bump, the way a closed
    guitar cabinet rolls off; level_db sets the output level after the tone stack.
    """
    x = highpass(audio, sample_rate_hz, cutoff_hz=80.0, q=0.7071)
    x = diode(x, sample_rate_hz, drive_db=drive_db, asymmetry=1.5)
    sos = np.vstack(
        [
            biquad_sos("lowshelf", 120.0, sample_rate_hz, 0.7071, bass_db),
            biquad_sos("peaking", 700.0, sample_rate_hz, 0.8, mid_db - 3.0),  # the tone-stack scoop
            biquad_sos("highshelf", 2500.0, sample_rate_hz, 0.7071, treble_db),
            biquad_sos("peaking", 100.0, sample_rate_hz, 1.0, 3.0),
            biquad_sos("lowpass", cabinet_hz, sample_rate_hz, 0.7071),
            biquad_sos("lowpass", cabinet_hz, sample_rate_hz, 0.7071),
        ]
    )
    y = signal.sosfilt(sos, x.astype(np.float64)) * db_to_gain(level_db)
    return y.astype(np.float32)


def _pedal(fx: pb.Plugin, audio: np.ndarray, sample_rate_hz: float) -> np.ndarray:
    y = fx(np.ascontiguousarray(audio, dtype=np.float32), float(sample_rate_hz), reset=True)
    return np.asarray(y, dtype=np.float32).reshape(-1)[: len(audio)]
