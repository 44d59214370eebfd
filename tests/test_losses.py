"""Losses: each term against its definition computed independently in numpy."""

import numpy as np
import pytest
import torch
from scipy.signal import lfilter

from neuralfx.losses import (
    QUIET_SHARE,
    DCLoss,
    EffectLoss,
    ESRLoss,
    PreEmphasis,
    esr,
    quiet_floor,
)


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


def test_a_silent_chunk_is_scored_against_the_quiet_floor_not_against_zero():
    rng = np.random.default_rng(3)
    level = rng.standard_normal(44100) * 0.3  # the training target
    loss = EffectLoss(0.75, 0.25, 0.85, level=level)
    floor = QUIET_SHARE * np.mean(lfilter([1.0, -0.85], [1.0], level)[1:] ** 2)
    assert loss.esr.floor == pytest.approx(floor, rel=1e-6)
    assert loss.dc.floor == pytest.approx(QUIET_SHARE * np.mean(level**2), rel=1e-6)
    # a rest: the target nearly silent, the model off by a little noise
    rest, off = 1e-5 * rng.standard_normal(512), 1e-3 * rng.standard_normal(512)
    bare = float(ESRLoss(0.85)(_t(rest + off), _t(rest)))
    floored = float(loss.esr(_t(rest + off), _t(rest)))
    assert bare > 1000  # what one silent chunk did to a step without the floor
    emphasised = lfilter([1.0, -0.85], [1.0], off)[1:]
    assert floored == pytest.approx(np.sum(emphasised**2) / (511 * floor), rel=1e-3)
    # at the music's level the floor changes the ESR by about QUIET_SHARE, no more
    loud = level[:512]
    plain = float(ESRLoss(0.85)(_t(loud + off), _t(loud)))
    assert float(loss.esr(_t(loud + off), _t(loud))) == pytest.approx(plain, rel=2 * QUIET_SHARE)


def test_the_quiet_floor_of_silence_is_zero_and_no_level_means_no_floor():
    assert quiet_floor(np.zeros(100), 0.85) == 0.0
    assert quiet_floor(np.zeros(0)) == 0.0
    assert EffectLoss().esr.floor == 0.0 and EffectLoss().dc.floor == 0.0
