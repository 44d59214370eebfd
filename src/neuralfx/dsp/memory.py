"""How long an effect remembers the input level, measured from a clean/processed pair.

A filter's or waveshaper's gain at a moment depends on the level at that moment; a
compressor's, gate's or sagging amp's also depends on the level over the last tens to hundreds
of milliseconds. Per 2.5 ms frame, the gain (output over input level, in dB) is predicted from
the current level alone, then from the current level together with the level smoothed over a
time constant ``tau``. The ``tau`` that explains the most of what the current level cannot is
the envelope memory; when none explains much, the effect has none. Training uses it to give
such effects long TBPTT chunks from the start (``training/schedule.py``).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

FRAME_S = 0.0025
TAUS_S = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
MIN_EXPLAINED = 0.3  # the share of the static prediction's error a real memory removes
BIN_DB = 3.0
FLOOR_DB = -50.0
MIN_FRAMES = 100


def _frame_db(x: np.ndarray, frame: int) -> np.ndarray:
    n = len(x) // frame
    power = np.mean(np.square(x[: n * frame].astype(np.float64).reshape(n, frame)), axis=1)
    return 10.0 * np.log10(power + 1e-12)


def _smoothed_db(power_db: np.ndarray, tau_frames: float) -> np.ndarray:
    """A one-pole average of the frame power (not of its dB), in dB."""
    a = float(np.exp(-1.0 / max(tau_frames, 1e-9)))
    p = 10.0 ** (power_db / 10.0)
    out, _ = lfilter([1.0 - a], [1.0, -a], p, zi=[a * p[0]])
    return 10.0 * np.log10(out + 1e-12)


def _residual(gain_db: np.ndarray, *keys_db: np.ndarray) -> float:
    """Variance of the gain left after predicting it by the mean of its bin of ``keys``."""
    codes = np.zeros(len(gain_db), dtype=np.int64)
    for k in keys_db:
        b = np.floor((k - FLOOR_DB) / BIN_DB).astype(np.int64)
        codes = codes * 64 + np.clip(b, 0, 63)
    _, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    pred = np.bincount(inverse, weights=gain_db)[inverse] / counts[inverse]
    return float(np.mean(np.square(gain_db - pred)))


def explained_by_tau(x: np.ndarray, y: np.ndarray, sample_rate_hz: int) -> dict[float, float]:
    """Per time constant (s), the share of the static prediction's gain variance it explains."""
    frame = max(1, int(round(FRAME_S * sample_rate_hz)))
    level_db, out_db = _frame_db(x, frame), _frame_db(y, frame)
    n = min(len(level_db), len(out_db))
    level_db, out_db = level_db[:n], out_db[:n]
    keep = (level_db > FLOOR_DB) & (out_db > FLOOR_DB - 20.0)
    if keep.sum() < MIN_FRAMES:
        return dict.fromkeys(TAUS_S, 0.0)
    gain_db = (out_db - level_db)[keep]
    static = _residual(gain_db, level_db[keep])
    if static <= 1e-9:  # a pure gain: nothing left to explain
        return dict.fromkeys(TAUS_S, 0.0)
    frame_s = frame / sample_rate_hz
    return {
        tau: 1.0
        - _residual(gain_db, level_db[keep], _smoothed_db(level_db, tau / frame_s)[keep]) / static
        for tau in TAUS_S
    }


def envelope_memory_s(x: np.ndarray, y: np.ndarray, sample_rate_hz: int) -> float:
    """The time constant (s) of the input-level history the output's gain follows best;
    0.0 when no history explains much beyond the current level (a filter, a waveshaper)."""
    explained = explained_by_tau(x, y, sample_rate_hz)
    best = max(explained, key=explained.get)
    return best if explained[best] >= MIN_EXPLAINED else 0.0
