"""Synthesized clean signals: what a guitar sends into a pedal, plus sweeps and noise.

The notes come from :mod:`neuralfx.strings`; this module plays them (single notes, chords,
palm-muted chugs, arpeggios, soft-to-hard runs) and interleaves them with sine sweeps, stepped
noise and silences so that every tenth of the signal holds a bit of everything.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from ..errors import ConfigError
from .levels import db_to_gain
from .strings import (
    FRETS,
    OPEN_STRINGS_MIDI,
    midi_to_hz,
    pluck,
    velocity_to_peak,
)


def log_sweep(
    start_hz: float = 20.0,
    end_hz: float = 20000.0,
    duration_s: float = 2.0,
    sample_rate_hz: int = 44100,
    level_db: float = -6.0,
    fade_s: float = 0.01,
) -> np.ndarray:
    """Exponential sine sweep at a peak of ``level_db`` dBFS, faded at both ends."""
    if not 0 < start_hz < end_hz < sample_rate_hz / 2:
        raise ConfigError(
            f"log_sweep: need 0 < start_hz < end_hz < {sample_rate_hz / 2:g} Hz, "
            f"got {start_hz:g} .. {end_hz:g}"
        )
    t = np.arange(int(round(duration_s * sample_rate_hz))) / sample_rate_hz
    rate = np.log(end_hz / start_hz) / duration_s
    x = np.sin(2 * np.pi * start_hz / rate * np.expm1(rate * t))
    return _fade(x, int(fade_s * sample_rate_hz)) * db_to_gain(level_db)


def noise_bursts(
    levels_db: list[float] | np.ndarray,
    burst_s: float = 0.2,
    sample_rate_hz: int = 44100,
    color: str = "white",
    seed: int | np.random.Generator = 0,
) -> np.ndarray:
    """Back-to-back noise bursts, each at a peak of ``levels_db[i]`` dBFS.

    Level steps with no gap show a compressor's attack and release; pink noise (-3 dB per
    octave) has the energy spread of music, white noise stresses the highs.
    """
    if color not in ("white", "pink"):
        raise ConfigError(f"noise_bursts: color={color!r}; use 'white' or 'pink'")
    rng = np.random.default_rng(seed)
    n = int(round(burst_s * sample_rate_hz))
    noise = rng.standard_normal((len(levels_db), n))
    if color == "pink":
        spectrum = np.fft.rfft(noise, axis=1)
        f = np.maximum(np.fft.rfftfreq(n, 1.0 / sample_rate_hz), 20.0)
        noise = np.fft.irfft(spectrum / np.sqrt(f), n, axis=1)
    noise /= np.max(np.abs(noise), axis=1, keepdims=True)
    gains = db_to_gain(np.asarray(levels_db, dtype=float))
    return _fade((noise * gains[:, None]).ravel(), int(0.005 * sample_rate_hz))


def _fade(x: np.ndarray, n: int) -> np.ndarray:
    """Raised-cosine fade-in and fade-out of n samples, so sections start and end without clicks."""
    n = min(n, len(x) // 2)
    if n > 0:
        ramp = 0.5 - 0.5 * np.cos(np.pi * np.arange(n) / n)
        x = x.copy()
        x[:n] *= ramp
        x[len(x) - n :] *= ramp[::-1]
    return x


def _pickup_tone(x: np.ndarray, cutoff_hz: float, q: float, sample_rate_hz: int) -> np.ndarray:
    """Resonant 2-pole lowpass: a pickup's inductance loaded by the cable capacitance."""
    w = 2 * np.pi * min(cutoff_hz, 0.45 * sample_rate_hz) / sample_rate_hz
    alpha = np.sin(w) / (2 * q)
    b = np.array([1 - np.cos(w), 2 * (1 - np.cos(w)), 1 - np.cos(w)]) / 2
    return lfilter(b, [1 + alpha, -2 * np.cos(w), 1 - alpha], x)


class _Guitar:
    """One guitar setup for a section: tuning error, pick and pickup spots, pickup tone."""

    def __init__(self, rng: np.random.Generator, sample_rate_hz: int):
        self.rng, self.fs = rng, sample_rate_hz
        self.detune_cents = rng.uniform(-6, 6, size=6)
        self.pick_open = rng.uniform(0.07, 0.2)  # fraction of the open string from the bridge
        self.pickup_open = rng.choice([0.08, 0.17, 0.26])  # bridge, middle, neck
        self.tone = (rng.uniform(2500, 7000), rng.uniform(0.7, 2.5))

    def place(self, midi: int) -> tuple[int, int]:
        """A (string, fret) for a MIDI note, nearer the nut more often, as players do."""
        options = [(s, midi - m) for s, m in enumerate(OPEN_STRINGS_MIDI) if 0 <= midi - m <= FRETS]
        weights = np.array([1.0 / (1 + fret) for _, fret in options])
        return options[self.rng.choice(len(options), p=weights / weights.sum())]

    def pluck(self, string: int, fret: int, held_s: float, velocity: float, **kw) -> np.ndarray:
        # A fretted string is shorter, so the same spot is a larger fraction of it.
        shorter = 2.0 ** (fret / 12.0)
        return pluck(
            midi_to_hz(OPEN_STRINGS_MIDI[string] + fret + self.detune_cents[string] / 100),
            held_s,
            self.fs,
            velocity=velocity,
            pick_position=min(0.45, self.pick_open * shorter * self.rng.uniform(0.85, 1.15)),
            pickup_position=min(0.45, self.pickup_open * shorter),
            seed=self.rng,
            **kw,
        )

    def strum(self, voicing, held_s: float, velocity: float, upstroke: bool, palm_mute: bool):
        """Strings a few ms apart, low to high (high to low going up); peak set by velocity."""
        order = voicing[::-1] if upstroke else voicing
        gap_s = self.rng.uniform(0.004, 0.025)
        out = np.zeros(int((held_s + 0.05) * self.fs))
        for i, (string, fret) in enumerate(order):
            start = int(i * gap_s * self.rng.uniform(0.7, 1.3) * self.fs)
            v = float(np.clip(velocity + self.rng.normal(0, 0.08), 0, 1))
            note = self.pluck(
                string,
                fret,
                max(0.03, held_s - start / self.fs),
                v,
                upstroke=upstroke,
                palm_mute=palm_mute,
            )
            _add(out, note, start)
        return out * (velocity_to_peak(velocity) / max(np.max(np.abs(out)), 1e-12))


def _add(buf: np.ndarray, x: np.ndarray, start: int) -> None:
    x = x[: max(0, len(buf) - start)]
    buf[start : start + len(x)] += x


_SCALES = ((0, 3, 5, 7, 10), (0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10), (0, 3, 5, 6, 7, 10))
_CHORDS = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 10), (0, 3, 7, 10), (0, 5, 7), (0, 4, 7, 11))
_GUITAR_KINDS = ("single", "chords", "chugs", "arpeggio", "dynamics")


def _voicing(rng: np.random.Generator, n_strings: int) -> list[tuple[int, int]]:
    """(string, fret) pairs of a random chord in one four-fret hand position, root lowest."""
    for _ in range(20):  # some chords have no root low in some positions: draw again
        root_pc, intervals = int(rng.integers(12)), _CHORDS[rng.integers(len(_CHORDS))]
        position = int(rng.integers(0, 10))
        frets = ([0] if position <= 2 else []) + list(range(max(position, 1), position + 5))
        wanted = {(root_pc + i) % 12 for i in intervals}
        notes: list[tuple[int, int]] = []
        for string in range(int(rng.integers(0, 3)), 6):
            pcs = [(OPEN_STRINGS_MIDI[string] + f) % 12 for f in frets]
            fits = [f for f, pc in zip(frets, pcs) if pc in (wanted if notes else {root_pc})]
            notes += [(string, fits[0])] if fits and len(notes) < n_strings else []
        if len(notes) >= min(n_strings, 3):
            return notes
    return _power_chord(0, (root_pc - 4) % 12)


def _power_chord(low_string: int, fret: int) -> list[tuple[int, int]]:
    """Root, fifth and octave: the shape of rock riffs on the two or three lowest strings."""
    return [(low_string, fret), (low_string + 1, fret + 2), (low_string + 2, fret + 2)]


def _guitar_section(kind: str, rng: np.random.Generator, fs: int, length_s: float) -> np.ndarray:
    """A few seconds of one playing style, at one tempo, on one guitar setup."""
    g = _Guitar(rng, fs)
    buf = np.zeros(int(length_s * fs))
    step_s = 60.0 / rng.uniform(70, 170) / rng.choice([2, 3, 4])  # 8ths, triplets, 16ths
    level = rng.uniform(0.1, 0.9)  # where this passage sits between -30 and -3 dBFS
    times = np.arange(0.0, length_s - 0.25, step_s)

    def vel(i: int, spread: float = 0.1) -> float:
        accent = 0.15 if i % 4 == 0 else 0.0
        return float(np.clip(level + accent + rng.normal(0, spread), 0, 1))

    if kind == "single":
        scale, root = _SCALES[rng.integers(len(_SCALES))], int(rng.integers(40, 77))
        degree, mute_p = 0, rng.choice([0.0, 0.3, 0.8])
        for i, t in enumerate(times):
            if rng.random() < 0.12:
                continue  # a rest
            degree = int(np.clip(degree + rng.integers(-3, 4), -7, 14))
            octave, step = divmod(degree, len(scale))
            midi = int(np.clip(root + 12 * octave + scale[step], 40, OPEN_STRINGS_MIDI[-1] + FRETS))
            held = step_s * rng.choice([0.5, 1.0, 1.0, 3.0])  # staccato, legato, let ring
            note = g.pluck(*g.place(midi), held, vel(i), palm_mute=rng.random() < mute_p)
            _add(buf, note, int(t * fs))
    elif kind in ("chords", "chugs"):
        chugs = kind == "chugs"
        shapes = [
            _power_chord(int(rng.integers(0, 2)), int(rng.integers(0, 10)))
            if chugs
            else _voicing(rng, int(rng.integers(3, 7)))
            for _ in range(int(rng.integers(2, 5)))
        ]
        hits = [i for i in range(len(times)) if i % 8 == 0 or rng.random() < 0.65]
        for j, i in enumerate(hits):
            shape = shapes[(i // 8) % len(shapes)]
            upstroke = i % 2 == 1 and not chugs
            mute = chugs and rng.random() < 0.75
            until = times[hits[j + 1]] if j + 1 < len(hits) else length_s - 0.1
            held = max(0.05, until - times[i] - 0.02)
            if upstroke:  # the way back up catches only the thinner strings, more softly
                shape = shape[len(shape) // 2 :]
            v = max(0.0, vel(i) - (0.15 if upstroke else 0.0))
            chord = g.strum(shape, held, v, upstroke, mute)
            _add(buf, chord, int(times[i] * fs))
    elif kind == "arpeggio":
        for i, t in enumerate(times):
            if i % 8 == 0:
                shape = _voicing(rng, int(rng.integers(4, 7)))
                order = rng.permutation(len(shape))
            string, fret = shape[order[i % len(order)]]
            ring_s = (8 - i % 8) * step_s + rng.uniform(0.0, 0.5)  # rings on into the next
            _add(buf, g.pluck(string, fret, ring_s, vel(i, 0.15)), int(t * fs))
    else:  # dynamics: one note or chord from very soft to hard, or back
        shape = _voicing(rng, int(rng.integers(1, 7)))
        times = times[:: max(1, int(np.ceil(0.18 / step_s)))]
        ramp = np.linspace(0.0, 1.0, len(times))
        ramp = ramp[::-1] if rng.random() < 0.5 else ramp
        mute = rng.random() < 0.4
        for t, v in zip(times, ramp):
            held = min(length_s - t, times[1] - times[0] if len(times) > 1 else 1.0)
            _add(buf, g.strum(shape, held * 0.95, float(v), False, mute), int(t * fs))

    buf = _pickup_tone(buf, *g.tone, fs)
    peak = np.max(np.abs(buf))
    if peak > 0.97:  # overlapping notes summed too high: keep the mix under full scale
        buf *= 0.97 / peak
    return _fade(buf, int(0.01 * fs))


def clean_signal(
    seed: int = 0, duration_s: float = 180.0, sample_rate_hz: int = 44100
) -> np.ndarray:
    """Mono float32 training input: guitar playing interleaved with sweeps, noise and silence.

    Rounds of about 10 s (two guitar passages in different styles, then a sine sweep or a
    noise staircase, each followed by a gap of digital silence) repeat to the end, so any
    tenth of a 180 s signal, such as the test block of an 80/10/10 split, holds all of it.
    Levels run from -40 to -3 dBFS; the peak stays below 0.99.
    """
    if not duration_s > 0 or sample_rate_hz < 16000:
        raise ConfigError(
            f"clean_signal: duration_s={duration_s}, sample_rate_hz={sample_rate_hz}; "
            "need a positive duration and at least 16000 Hz"
        )
    rng = np.random.default_rng(seed)
    fs = int(sample_rate_hz)
    n_total = int(round(duration_s * fs))
    parts: list[np.ndarray] = []
    n, round_index, kinds, sweep_levels = 0, 0, [], []
    while n < n_total:
        start = len(parts)
        for _ in range(2):
            kinds = kinds or list(rng.permutation(_GUITAR_KINDS))
            parts.append(_guitar_section(kinds.pop(), rng, fs, rng.uniform(2.5, 4.5)))
            parts.append(np.zeros(int(rng.uniform(0.08, 0.4) * fs)))
        if round_index % 2 == 0:
            sweep_levels = sweep_levels or list(rng.permutation([-30, -20, -12, -6, -3.0]))
            end_hz = min(20000.0, 0.45 * fs)
            parts.append(log_sweep(20.0, end_hz, 2.0, fs, level_db=sweep_levels.pop()))
        else:
            levels = rng.permutation(np.linspace(-40.0, -6.0, 9))
            color = "pink" if round_index % 4 == 1 else "white"
            parts.append(noise_bursts(levels, 0.2, fs, color, seed=rng))
        parts.append(np.zeros(int(rng.uniform(0.08, 0.4) * fs)))
        n += sum(len(p) for p in parts[start:])
        round_index += 1
    x = np.concatenate(parts)[:n_total]
    tail = min(len(x), int(0.01 * fs))  # the cut may fall mid-note
    x[len(x) - tail :] *= np.linspace(1.0, 0.0, tail)
    return x.astype(np.float32)


def guitar_riff(seed: int = 1, duration_s: float = 5.0, sample_rate_hz: int = 44100) -> np.ndarray:
    """An E minor pentatonic rock riff for listening demos (float32, peak 0.8).

    Two bars at 120 bpm, repeated: palm-muted E5 chugs with accented G5 and A5 stabs, then a
    sixteenth-note run with the blue note and a ringing E5. ``seed`` only humanises timing,
    dynamics and the string noise.
    """
    if not duration_s > 0:
        raise ConfigError(f"guitar_riff: duration_s={duration_s}; need a positive duration")
    rng = np.random.default_rng(seed)
    g = _Guitar(rng, sample_rate_hz)
    g.detune_cents[:] = rng.uniform(-2, 2, size=6)
    g.pickup_open, g.pick_open, g.tone = 0.08, 0.12, (4500.0, 1.4)  # bridge pickup
    e5, g5, a5 = _power_chord(0, 0), _power_chord(0, 3), _power_chord(1, 0)
    eighth = 0.25
    # (start in eighths, shape, length in eighths, velocity, palm-muted)
    bar1 = [
        (0, e5, 1, 0.55, True),
        (1, e5, 1, 0.45, True),
        (2, e5, 1, 0.5, True),
        (3, g5, 1, 0.9, False),
        (4, e5, 1, 0.5, True),
        (5, e5, 1, 0.45, True),
        (6, a5, 2, 0.95, False),
    ]
    run = [(2, 2), (2, 5), (2, 7), (2, 8), (2, 7), (2, 5), (2, 2), (1, 5)]  # E G A Bb A G E D
    bar2 = [(8 + i / 2, [note], 0.5, 0.6 + 0.1 * (i % 2 == 0), False) for i, note in enumerate(run)]
    bar2.append((12, e5, 4, 1.0, False))
    n = int(round(duration_s * sample_rate_hz))
    out = np.zeros(n)
    for loop in range(int(np.ceil(duration_s / (16 * eighth)))):
        for start, shape, length, velocity, mute in bar1 + bar2:
            t = (16 * loop + start) * eighth + rng.normal(0, 0.006)
            if t >= duration_s:
                continue
            v = float(np.clip(velocity + rng.normal(0, 0.05), 0, 1))
            chord = g.strum(shape, length * eighth * 0.95, v, False, mute)
            _add(out, chord, max(0, int(t * sample_rate_hz)))
    out = _fade(_pickup_tone(out, *g.tone, sample_rate_hz), int(0.02 * sample_rate_hz))
    return (out * (0.8 / max(np.max(np.abs(out)), 1e-12))).astype(np.float32)
