"""The forecaster learns the ERP calendar from simulated history (nexus_ml.sim), not from rules.

Five and a half simulated weeks of one module at 5-minute steps, across the February month end,
fitted up to Friday 27 March 00:00 local time; the forecast then runs into the March month end
(Sunday 29 – Tuesday 31). The simulator's truth is its noiseless demand (peak × activity).
Tolerances: business-hour and weekday rhythm within 10 % of the truth; weekday month-end days
within 5 % (a model without the calendar misses them by 15 % or more).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.features.calendar import LocalCalendar
from nexus_ml.models.forecast.seasonal import SeasonalForecaster
from nexus_ml.sim import simulate_history
from nexus_ml.sim.demand import activity, peak_rpm
from nexus_ml.sim.traits import traits_for

MODULE = "nexus-user-management"  # month-end boost 1.25 in the simulator
START = datetime(2026, 2, 16, 3, tzinfo=UTC)  # Monday 00:00 in São Paulo
FIT_END = datetime(2026, 3, 27, 3, tzinfo=UTC)  # Friday 00:00 in São Paulo
TZ = "America/Sao_Paulo"


@pytest.fixture(scope="module")
def history() -> pd.Series:
    catalog = load_catalog()
    frame = simulate_history(catalog, start=START, days=44, step_s=300, seed=3)
    rows = frame[frame["module"] == MODULE].set_index("timestamp")
    return rows["requests_per_min"]


def truth(index: pd.DatetimeIndex) -> pd.Series:
    catalog = load_catalog()
    traits = traits_for(MODULE)
    level = peak_rpm(catalog.get(MODULE), traits) * activity(
        LocalCalendar.from_index(index), traits
    )
    return pd.Series(level, index=index)


@pytest.fixture(scope="module")
def forecasts(history: pd.Series) -> dict[bool, tuple[SeasonalForecaster, pd.Series]]:
    train = history[: FIT_END - timedelta(minutes=5)]
    horizon = int((history.index >= FIT_END).sum())
    out = {}
    for calendar in (True, False):
        model = SeasonalForecaster(calendar=calendar).fit(train)
        mean = model.predict(horizon, levels=(80,))["mean"].to_numpy()
        out[calendar] = (model, pd.Series(mean, index=history.index[history.index >= FIT_END]))
    return out


def _hours(index: pd.DatetimeIndex, day: str, start: int, end: int) -> np.ndarray:
    local = index.tz_convert(TZ)
    return np.asarray(
        (local.strftime("%Y-%m-%d") == day) & (local.hour >= start) & (local.hour < end)
    )


def _ratio(pred: pd.Series, day: str, start: int, end: int) -> float:
    rows = _hours(pred.index, day, start, end)
    return float(pred[rows].mean() / truth(pd.DatetimeIndex(pred.index[rows])).mean())


def test_business_hours_and_weekdays_are_learned_from_the_history(
    forecasts: dict[bool, tuple[SeasonalForecaster, pd.Series]],
) -> None:
    model, _ = forecasts[True]
    # One week of the learned profile against the simulator's truth, inside the fit window
    # and away from any month end.
    week = pd.date_range("2026-03-09 03:00", periods=7 * 288, freq="5min", tz="UTC")
    learned = pd.Series(model.seasonal_profile_at(week), index=week)
    real = truth(week)

    def mean_at(series: pd.Series, day: str, start: int, end: int) -> float:
        return float(series[_hours(week, day, start, end)].mean())

    # Business hours: Wednesday 13–16 h over 02–05 h.
    learned_bh = mean_at(learned, "2026-03-11", 13, 16) / mean_at(learned, "2026-03-11", 2, 5)
    real_bh = mean_at(real, "2026-03-11", 13, 16) / mean_at(real, "2026-03-11", 2, 5)
    assert learned_bh == pytest.approx(real_bh, rel=0.10)
    # Weekly rhythm: Saturday and Sunday afternoons over Wednesday's.
    for weekend_day in ("2026-03-14", "2026-03-15"):
        learned_w = mean_at(learned, weekend_day, 13, 16) / mean_at(learned, "2026-03-11", 13, 16)
        real_w = mean_at(real, weekend_day, 13, 16) / mean_at(real, "2026-03-11", 13, 16)
        assert learned_w == pytest.approx(real_w, rel=0.10), weekend_day


def test_month_end_rush_is_learned_from_the_previous_month_end(
    forecasts: dict[bool, tuple[SeasonalForecaster, pd.Series]],
) -> None:
    _, with_calendar = forecasts[True]
    _, without = forecasts[False]
    # Monday 30 and Tuesday 31 March: weekday month-end days, 13–16 h.
    for day in ("2026-03-30", "2026-03-31"):
        assert _ratio(with_calendar, day, 13, 16) == pytest.approx(1.0, abs=0.05), day
        assert _ratio(without, day, 13, 16) < 0.85, day
    # The Friday before is an ordinary weekday for both.
    assert _ratio(with_calendar, "2026-03-27", 13, 16) == pytest.approx(1.0, abs=0.05)
    # Sunday 29 is inside the rush (weekend work): one month-end Saturday in the history
    # teaches part of it — closer than without the calendar, not yet within tolerance.
    sunday_with = abs(_ratio(with_calendar, "2026-03-29", 13, 16) - 1.0)
    sunday_without = abs(_ratio(without, "2026-03-29", 13, 16) - 1.0)
    assert sunday_with < sunday_without - 0.3
