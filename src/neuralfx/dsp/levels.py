"""Decibels and linear gains, the one conversion every effect, signal and check uses; and the
error-to-signal ratio, the one score (here so that the DSP layer needs no torch)."""

from __future__ import annotations

import numpy as np

FLOOR_DB = -200.0  # what silence reads as, so that levels stay finite in tables and JSON
_EPS = 1e-10


def db_to_gain(level_db):
    """Linear gain of ``level_db`` (a number or an array of them)."""
    if np.ndim(level_db):
        return 10.0 ** (np.asarray(level_db, dtype=float) / 20.0)
    return float(10.0 ** (float(level_db) / 20.0))


def gain_to_db(gain: float) -> float:
    """Level in dB of a linear amplitude; silence gives a finite floor, not -inf."""
    return float(20.0 * np.log10(max(float(gain), 10.0 ** (FLOOR_DB / 20.0))))


def esr(target: np.ndarray, prediction: np.ndarray) -> float:
    """Error-to-signal ratio sum((y - ŷ)²) / sum(y²) of two arrays (the honest metric)."""
    target = np.asarray(target, dtype=np.float64)
    prediction = np.asarray(prediction, dtype=np.float64)
    return float(np.sum((target - prediction) ** 2) / (np.sum(target**2) + _EPS))
