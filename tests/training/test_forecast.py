"""The forecast: a power law through the recent records, clamped to what is plausible."""

import math

import pytest

from neuralfx.training.forecast import (
    MAX_GAIN,
    RECENT,
    Forecast,
    forecast,
    records,
    run_end_s,
)


def power_law(seconds, scale=0.1, slope=-1.5):
    return [(s, scale * s**slope) for s in seconds]


def test_a_descending_power_law_is_recovered():
    fc = forecast(power_law([1, 2, 4, 8, 16]), end_s=64, target_esr=1e-4)
    assert fc.end_esr == pytest.approx(0.1 * 64**-1.5)
    # 0.1 s^-1.5 = 1e-4 at s = 1000^(2/3) = 100
    assert fc.target_s == pytest.approx(100)
    assert fc.end_s == 64


def test_only_the_recent_records_are_fitted():
    steep_start = [(0.1, 10.0), (0.2, 5.0), (0.3, 3.0)]
    fc = forecast(steep_start + power_law([1, 2, 3, 4, 6, 8]), end_s=32)
    assert RECENT == 6
    assert fc.end_esr == pytest.approx(0.1 * 32**-1.5)


def test_too_few_records_give_no_forecast():
    assert forecast([], 10) is None
    assert forecast(power_law([1, 2]), 10) is None
    # a record at time 0 or with an infinite or zero ESR is no evidence
    assert forecast([(0.0, 0.5), (1, math.inf), (2, 0.0), (3, 0.1), (4, 0.05)], 10) is None
    assert forecast([(2, 0.3), (2, 0.2), (2, 0.1)], 10) is None, "no spread in time"


@pytest.mark.parametrize("esrs", [(0.1, 0.1, 0.1), (0.05, 0.08, 0.1)], ids=["flat", "rising"])
def test_a_flat_or_rising_curve_forecasts_the_current_best_and_no_time(esrs):
    fc = forecast(list(zip((1, 2, 3), esrs)), end_s=100, target_esr=0.01)
    assert fc == Forecast(100, 0.1, None)


def test_the_forecast_is_never_beyond_the_bounds():
    points = power_law([1, 2, 4])
    best = points[-1][1]
    assert forecast(points, end_s=1e9).end_esr == pytest.approx(best / MAX_GAIN)
    assert forecast(points, end_s=0.5).end_esr == best, "never worse than the current best"
    assert forecast(points, end_s=math.inf).end_esr == pytest.approx(best / MAX_GAIN)


def test_the_time_to_a_target_is_none_when_it_is_out_of_reach():
    points = power_law([1, 2, 4])
    best = points[-1][1]
    assert forecast(points, 10).target_s is None, "no target set"
    assert forecast(points, 10, target_esr=best / (2 * MAX_GAIN)).target_s is None
    assert forecast(points, 10, target_esr=best).target_s == 4, "reached at the last record"
    # a descent this shallow would take longer than anyone waits
    shallow = [(s, 0.1 * s**-1e-6) for s in (1, 2, 4)]
    assert forecast(shallow, 10, target_esr=0.05).target_s is None


def test_records_are_the_epochs_that_beat_the_loss_so_far():
    rows = [
        {"seconds": 1.0, "val_loss": 0.5, "val_esr": 0.4},
        {"seconds": 2.0, "val_loss": 0.6, "val_esr": 0.3},  # a lower ESR but no loss record
        {"seconds": 3.0, "val_loss": math.inf, "val_esr": math.nan},
        {"seconds": 4.0, "val_loss": 0.2, "val_esr": 0.25},
        {"seconds": 5.0, "val_loss": 0.2, "val_esr": 0.1},  # a tie is not a record
    ]
    assert records(rows) == [(1.0, 0.4), (4.0, 0.25)]


def test_the_run_ends_at_its_budget_or_its_last_epoch_whichever_is_first():
    assert run_end_s(0.0, 100, 10, 20.0) == 200.0
    assert run_end_s(60.0, 100, 10, 20.0) == 60.0
    assert run_end_s(600.0, 100, 10, 20.0) == 200.0
    assert run_end_s(60.0, 100, 0, 0.0) == 60.0
    assert run_end_s(0.0, 100, 0, 0.0) == math.inf
