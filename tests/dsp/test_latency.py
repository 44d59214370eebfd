"""Latency estimation: exact for pure delays through distortion and filters."""

import numpy as np
import pytest
from utils import RATE as SR
from utils import delayed, noise

from neuralfx.dsp.chains import parse_chain
from neuralfx.dsp.latency import estimate_latency


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
