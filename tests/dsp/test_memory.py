"""The envelope memory measured from a pair: a release is found, a waveshaper has none."""

import numpy as np
from scipy.signal import lfilter
from utils import RATE, slow_compressor, stepped_noise

from neuralfx.dsp.memory import envelope_memory_s


def test_a_compressor_release_is_found():
    x = stepped_noise(30.0)
    assert 0.05 <= envelope_memory_s(x, slow_compressor(x, 0.1), RATE) <= 0.5


def test_filters_gains_and_waveshapers_have_none():
    x = stepped_noise(30.0, seed=1)
    assert envelope_memory_s(x, np.tanh(4 * x), RATE) == 0.0
    assert envelope_memory_s(x, 0.5 * x, RATE) == 0.0
    assert envelope_memory_s(x, lfilter([0.2], [1, -0.8], x).astype(np.float32), RATE) == 0.0


def test_silence_has_no_memory_rather_than_an_error():
    z = np.zeros(RATE, np.float32)
    assert envelope_memory_s(z, z, RATE) == 0.0
