"""The least-squares linear fit finds a filter's few states, and refuses what is not linear."""

import numpy as np
import pytest
from scipy.signal import butter, lfilter

from neuralfx.dsp.levels import esr
from neuralfx.dsp.linear import fir_fit, fit_linear

RATE = 44100


def noise(seconds: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * 0.3


def fitted(y_of, max_order=16):
    x = noise(4.0, 0)
    return fit_linear(x, y_of(x), 3 * RATE, max_order)


def test_a_biquad_comes_back_as_a_few_states_that_run_like_it():
    b, a = butter(2, 300, "highpass", fs=RATE)
    system, check_esr = fitted(lambda v: lfilter(b, a, v))
    assert system.order <= 3 and check_esr < 1e-8
    fresh = noise(0.5, 2)  # audio neither the fit nor the choice of order saw
    assert esr(lfilter(b, a, fresh), system.run(fresh)) < 1e-8
    assert np.max(np.abs(np.linalg.eigvals(system.a))) < 1


def test_a_resonant_fourth_order_filter_needs_more_states():
    b, a = butter(4, [800, 1500], "bandpass", fs=RATE)  # eighth order, a narrow band
    system, check_esr = fitted(lambda v: lfilter(b, a, v), max_order=16)
    assert 7 <= system.order <= 9 and check_esr < 1e-6


def test_a_clipper_is_not_linear():
    _, check_esr = fitted(lambda v: np.tanh(6 * v))
    assert check_esr > 1e-2


def test_a_gain_is_one_state_and_a_silent_input_is_refused():
    system, check_esr = fitted(lambda v: -0.5 * v)
    assert system.order == 1 and check_esr < 1e-12
    with pytest.raises(ValueError, match="silent"):
        fir_fit(np.zeros(1000), np.zeros(1000))
