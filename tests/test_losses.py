"""Losses: each term against its definition computed independently in numpy."""

import numpy as np
import pytest
import torch
from scipy.signal import lfilter

from neuralfx.losses import DCLoss, EffectLoss, ESRLoss, PreEmphasis, esr


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a.astype(np.float32)).view(1, -1, 1)


def test_esr_is_zero_for_a_perfect_prediction_and_one_for_silence():
    y = np.random.default_rng(0).standard_normal(1000)
    assert esr(y, y) == 0.0
    assert esr(y, np.zeros_like(y)) == pytest.approx(1.0)
    assert esr(y, 0.5 * y) == pytest.approx(0.25)


def test_pre_emphasis_is_the_first_order_highpass():
    x = np.random.default_rng(1).standard_normal(500)
    ours = PreEmphasis(0.85)(_t(x)).view(-1).numpy()
    reference = lfilter([1.0, -0.85], [1.0], x)[1:]  # the first sample has no predecessor
    assert np.allclose(ours, reference, atol=1e-5)
    assert torch.equal(PreEmphasis(0.0)(_t(x)), _t(x))


def test_esr_loss_weights_highs_when_pre_emphasised():
    n = np.arange(4410)
    low = np.sin(2 * np.pi * 100 * n / 44100)
    high = np.sin(2 * np.pi * 8000 * n / 44100)
    target = low + high
    miss_low, miss_high = _t(target - 0.1 * low), _t(target - 0.1 * high)
    plain, emphasised = ESRLoss(0.0), ESRLoss(0.85)
    assert float(plain(miss_low, _t(target))) == pytest.approx(
        float(plain(miss_high, _t(target))), rel=0.05
    )
    # |1 - 0.85 e^-jw|^2 is 1.02 at 8 kHz and 0.023 at 100 Hz: a 45x weight
    assert float(emphasised(miss_high, _t(target))) > 30 * float(emphasised(miss_low, _t(target)))


def test_dc_loss_sees_an_offset_and_effect_loss_sums_the_weighted_terms():
    y = np.random.default_rng(2).standard_normal(2000) * 0.3
    pred = y + 0.1
    dc = float(DCLoss()(_t(pred), _t(y)))
    assert dc == pytest.approx(0.01 / np.mean(y**2), rel=1e-3)
    total = float(EffectLoss(0.75, 0.25, 0.85)(_t(pred), _t(y)))
    parts = 0.75 * float(ESRLoss(0.85)(_t(pred), _t(y))) + 0.25 * dc
    assert total == pytest.approx(parts, rel=1e-5)
