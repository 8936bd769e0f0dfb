"""Out-of-sample check of the lead-time quantiles and the leave-one-trace-out choice."""

from __future__ import annotations

import numpy as np
import pytest

from nexus_ml.errors import InputError
from nexus_ml.evaluate.lead_time_selection import (
    DECISION_LEVELS,
    RELIABILITY_LEVELS,
    StreamResult,
    choose_setting,
    leave_one_trace_out,
    one_step_scale,
    stream_quantiles,
)
from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk

DAY = 288  # a short synthetic "day" keeps the tests fast
SMALL = {"calib_window": 500, "seasonal_days": 2}


def noisy_daily(days: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days * DAY)
    return 100 + 30 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 4, t.size)


def test_decision_levels_are_the_median_and_the_break_even_level() -> None:
    # The strategy floors at the median peak and adds a replica when the risk it removes is
    # above 1/20 (its default under-cost), i.e. at the 0.95 quantile.
    assert DECISION_LEVELS == (0.5, 0.95)
    assert set(DECISION_LEVELS) <= set(RELIABILITY_LEVELS)


def test_streamed_quantiles_cover_at_their_levels_on_both_distributions() -> None:
    y = noisy_daily(9, seed=1)
    out = stream_quantiles(y, SMALL, lead_time=2, warmup=3 * DAY, season=DAY)
    for name in ("window", "ready"):
        coverage = out[name].covered.mean(axis=0)
        assert coverage == pytest.approx(RELIABILITY_LEVELS, abs=0.04), name
    # The window's peak is a maximum of three values, the ready step one of them.
    assert out["window"].pinball.shape == (y.size - 2 - 3 * DAY, len(RELIABILITY_LEVELS))


def test_streaming_is_causal() -> None:
    """Changing the series from some point on changes no result of an earlier origin whose
    outcome was already observed."""
    y = noisy_daily(5, seed=2)
    cut, lead, warmup = 4 * DAY, 2, 3 * DAY
    changed = y.copy()
    changed[cut:] += 500.0
    a = stream_quantiles(y, SMALL, lead_time=lead, warmup=warmup, season=DAY)
    b = stream_quantiles(changed, SMALL, lead_time=lead, warmup=warmup, season=DAY)
    known = cut - lead - warmup  # origins whose whole outcome lies before the cut
    for name in ("window", "ready"):
        assert np.array_equal(a[name].pinball[:known], b[name].pinball[:known])
        assert not np.array_equal(a[name].pinball[known:], b[name].pinball[known:])


@pytest.mark.parametrize("warmup", [0, 5 * DAY])
def test_warmup_outside_the_series_is_rejected_with_the_value(warmup: int) -> None:
    with pytest.raises(InputError, match=f"got {warmup}"):
        stream_quantiles(noisy_daily(5, seed=3), SMALL, lead_time=2, warmup=warmup, season=DAY)


def fake(loss: float, covered: float) -> dict[str, StreamResult]:
    """A result whose pinball loss at every level is ``loss`` and coverage ``covered``."""
    levels = len(RELIABILITY_LEVELS)
    cover = np.zeros((100, levels), dtype=bool)
    cover[: int(100 * covered)] = True
    result = StreamResult(covered=cover, pinball=np.full((100, levels), loss), seconds=0.0)
    return {"window": result, "ready": result}


def test_each_trace_is_scored_with_the_setting_chosen_on_the_others() -> None:
    # x is excellent on A and B but bad on C; y is good everywhere.
    runs = {
        "A": {"x": fake(1.0, 0.9), "y": fake(2.0, 0.5)},
        "B": {"x": fake(1.0, 0.9), "y": fake(2.0, 0.5)},
        "C": {"x": fake(10.0, 0.1), "y": fake(2.0, 0.5)},
    }
    scales = dict.fromkeys(runs, 1.0)
    out = leave_one_trace_out(runs, scales)
    assert out["in_sample_choice"] == "y"  # mean loss 4 against 2
    assert out["folds"] == {"A": "y", "B": "y", "C": "x"}  # C held out: x wins on A and B
    # Out of fold, C is scored with x (coverage 0.1), A and B with y (0.5).
    assert out["coverage_out_of_fold"]["window"][0] == pytest.approx((0.5 + 0.5 + 0.1) / 3)
    assert out["coverage_in_sample"]["ready"][0] == pytest.approx(0.5)
    # Losses are compared per unit of each trace's scale.
    assert choose_setting(runs, {"A": 1.0, "B": 1.0, "C": 100.0}, ["A", "B", "C"]) == "x"
    with pytest.raises(InputError, match="two or more"):
        leave_one_trace_out({"A": runs["A"]}, scales)


def test_one_step_scale_is_the_mean_absolute_change() -> None:
    assert one_step_scale(np.array([1.0, 3.0, 2.0])) == pytest.approx(1.5)
    assert one_step_scale(np.array([5.0, 5.0])) == 1.0  # a flat series keeps losses as they are


def test_lead_time_risk_passes_its_chosen_settings_to_both_distributions() -> None:
    risk = LeadTimeRisk(lead_time=2, season=DAY, calib_window=400, vol_window=60)
    risk.fit(noisy_daily(3, seed=4))
    for model in (risk.window_model_, risk.ready_model_):
        assert (model.calib_window, model.vol_window, model.season) == (400, 60, DAY)
    assert (risk.window_model_.first_step, risk.ready_model_.first_step) == (1, 3)
