"""A plucked guitar string: extended Karplus-Strong (Jaffe & Smith 1983).

A delay line closed by a FIR that holds a Lagrange fractional delay (accurate pitch, flat
magnitude) and a symmetric damping filter (frequency-dependent decay), with pick-position and
pickup combs and lowpasses for the pluck shape and the picking strength outside the loop. All
of it is linear, so the loop runs first and the filters after it. Pure numpy/scipy, seeded.
"""

from __future__ import annotations

from functools import reduce

import numpy as np
from scipy.signal import lfilter

from ..errors import ConfigError
from .levels import db_to_gain

OPEN_STRINGS_MIDI = (40, 45, 50, 55, 59, 64)  # E2 A2 D3 G3 B3 E4, standard tuning
FRETS = 24  # the top E6 is 1318.5 Hz
SOFT_PEAK_DB, HARD_PEAK_DB = -30.0, -3.0  # velocity 0 and 1
_LAGRANGE_ORDER = 5


def midi_to_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def velocity_to_peak(velocity: float) -> float:
    """Peak amplitude of a note picked at ``velocity`` in [0, 1]: -30 dBFS soft to -3 hard."""
    return db_to_gain(SOFT_PEAK_DB + (HARD_PEAK_DB - SOFT_PEAK_DB) * float(np.clip(velocity, 0, 1)))


def _lagrange(delay_samples: float, order: int) -> np.ndarray:
    """FIR taps delaying by ``delay_samples`` (best kept within +-0.5 of order/2)."""
    k = np.arange(order + 1)
    return np.array([np.prod((delay_samples - k[k != m]) / (m - k[k != m])) for m in k])


def _run_loop(
    excitation: np.ndarray, delay_samples: int, loop_fir: np.ndarray, n: int
) -> np.ndarray:
    """y[i] = x[i] + sum_j h[j] y[i - d - j], computed in numpy blocks instead of per sample.

    Blocks of d samples only read samples from earlier blocks. Once the excitation has left
    the loop, K trips round it are one FIR (h convolved K times) over a delay of K*d, so blocks
    grow to K*d samples; K balances call overhead against kernel length (both measured).
    """
    d, taps = delay_samples, len(loop_fir) - 1
    k_trips = max(1, int(round(np.sqrt(1500.0 / (d * max(taps, 1))))))
    kernel = reduce(np.convolve, [loop_fir] * k_trips)
    pad = k_trips * d + len(kernel)  # zeros before time 0: every block reads a full history
    y = np.zeros(pad + n)
    x_len = min(len(excitation), n)
    y[pad : pad + x_len] = excitation[:x_len]
    switch = min(n, x_len + (k_trips - 1) * (d + taps))
    for start in range(d, switch, d):
        end = min(start + d, switch)
        y[pad + start : pad + end] += np.convolve(
            y[pad + start - d - taps : pad + end - d], loop_fir, "valid"
        )
    dk, kt = k_trips * d, len(kernel) - 1
    for start in range(max(switch, d), n, dk):
        end = min(start + dk, n)
        y[pad + start : pad + end] = np.convolve(
            y[pad + start - dk - kt : pad + end - dk], kernel, "valid"
        )
    return y[pad:]


def _comb(x: np.ndarray, delay_samples: int) -> np.ndarray:
    """1 - z^-M: where a string is picked or sensed, the harmonics with a node there vanish."""
    out = x.copy()
    out[delay_samples:] -= x[:-delay_samples]
    return out


def pluck(
    freq_hz: float,
    duration_s: float,
    sample_rate_hz: int = 44100,
    velocity: float = 0.7,
    palm_mute: bool = False,
    pick_position: float = 0.15,
    pickup_position: float = 0.12,
    upstroke: bool = False,
    release_s: float = 0.04,
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """One plucked string held ``duration_s`` then damped over ``release_s`` (float64).

    ``velocity`` sets the peak (see ``velocity_to_peak``) and the brightness: soft picks are
    darker. Positions are fractions of the vibrating length from the bridge. Palm-muted notes
    decay in a few hundred ms and lose their highs faster; ringing notes last seconds.
    """
    fs = float(sample_rate_hz)
    if not 20.0 <= freq_hz < fs / 8:
        raise ConfigError(f"pluck: freq_hz={freq_hz} is outside 20 Hz .. {fs / 8:.0f} Hz")
    rng = np.random.default_rng(seed)
    period = fs / freq_hz
    n = max(1, int(round((duration_s + release_s) * fs)))

    # Decay: T60 at the fundamental and at 4 kHz; low strings ring longer, as on a guitar.
    if palm_mute:
        t60_s, t60_hf_s = rng.uniform(0.25, 0.6), 0.04
    else:
        t60_s = rng.uniform(0.7, 1.3) * 7.0 * np.sqrt(82.4 / freq_hz)
        t60_hf_s = 0.25 + 0.1 * t60_s
    gain = 10.0 ** (-3.0 / (t60_s * freq_hz))  # per trip round the loop
    w_hf = 2 * np.pi * min(4000.0, 0.4 * fs) / fs
    hf_target = 10.0 ** (-3.0 / (t60_hf_s * freq_hz)) / gain
    # Damping filter [a, 1-2a, a]^m: monotonic lowpass with exactly m samples of delay. One
    # stage loses at most cos(w/2)^2 per trip, too little for a palm-muted low string.
    most_per_stage = np.cos(w_hf / 2) ** 2
    stages = int(np.clip(np.ceil(np.log(hf_target) / np.log(most_per_stage)), 1, period - 5))
    a = float(np.clip((1.0 - hf_target ** (1.0 / stages)) / (2.0 * (1.0 - np.cos(w_hf))), 0, 0.25))
    damping = reduce(np.convolve, [[a, 1.0 - 2.0 * a, a]] * stages)
    # Integer delay plus a Lagrange delay near its centre, where it is passive and flat.
    half = _LAGRANGE_ORDER / 2.0
    delay = int(np.floor(period - stages - half + 0.5))
    frac = period - stages - delay
    loop_fir = gain * np.convolve(damping, _lagrange(frac, _LAGRANGE_ORDER))

    # An impulse excites every harmonic equally; the noise makes each pluck a little different.
    burst = rng.standard_normal(int(round(period)))
    burst = 0.5 * (burst - burst.mean()) / np.sqrt(len(burst))
    burst[0] += 1.0
    y = _run_loop(burst, delay, loop_fir, n)

    y = _comb(y, max(1, int(round(np.clip(pick_position, 0.02, 0.5) * period))))
    y = _comb(y, max(1, int(round(np.clip(pickup_position, 0.02, 0.5) * period))))
    # A pluck's harmonics fall as 1/k (a lowpass at 2 f0); soft picks and
    # upstrokes excite fewer highs (a second lowpass); palm muting darkens further.
    v = float(np.clip(velocity, 0.0, 1.0))
    cutoff_hz = 400.0 * 30.0**v * (0.75 if upstroke else 1.0) * (0.5 if palm_mute else 1.0)
    poles = np.exp(-2 * np.pi * np.minimum([2 * freq_hz, cutoff_hz], 0.45 * fs) / fs)
    y = lfilter([np.prod(1.0 - poles)], np.poly(poles), y)

    held = min(n, int(round(duration_s * fs)))
    if held < n:  # finger lifts: about 60 dB over the release
        y[held:] *= np.exp(-6.9 * np.arange(n - held) / (n - held))
    peak = np.max(np.abs(y))
    return y * (velocity_to_peak(v) / peak) if peak > 0 else y
