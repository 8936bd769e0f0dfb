"""SeasonalForecaster on synthetic series: calibration, accuracy, context, update, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nexus_ml.errors import InputError
from nexus_ml.models.forecast.seasonal import SeasonalForecaster

DAY = 288  # 5-minute steps


def synthetic(days: float, *, seed: int = 0, noise: float = 5.0, freq: str = "5min") -> pd.Series:
    """Daily cycle + AR(1) noise."""
    per_day = int(pd.Timedelta("1D") / pd.Timedelta(freq))
    n = int(days * per_day)
    index = pd.date_range("2026-02-02", periods=n, freq=freq, tz="UTC")
    rng = np.random.default_rng(seed)
    ar = np.zeros(n)
    shocks = rng.normal(0, noise, n)
    for t in range(1, n):
        ar[t] = 0.8 * ar[t - 1] + shocks[t]
    t = np.arange(n)
    values = 200 + 80 * np.sin(2 * np.pi * t / per_day) + ar
    return pd.Series(values, index=index, name="cpu")


def rolling_origins(y: pd.Series, model: SeasonalForecaster, start: int, every: int, h: int):
    """Forecasts from successive origins, conditioned through ``context`` (no refit)."""
    for origin in range(start, y.size - h, every):
        fc = model.predict(h, levels=(80,), context=y.iloc[start - DAY : origin])
        yield fc, y.iloc[origin : origin + h].to_numpy()


def test_80_percent_interval_covers_about_80_percent() -> None:
    y = synthetic(12, seed=1)
    train_end = 10 * DAY
    model = SeasonalForecaster().fit(y.iloc[:train_end])
    inside = [
        (actual >= fc["lo-80"].to_numpy()) & (actual <= fc["hi-80"].to_numpy())
        for fc, actual in rolling_origins(y, model, train_end, 7, 12)
    ]
    coverage = float(np.mean(np.concatenate(inside)))
    assert 0.70 <= coverage <= 0.90, coverage


def test_beats_seasonal_naive_on_a_noisy_drifting_series() -> None:
    y = synthetic(12, seed=2)
    # a slowly wandering level (random walk), as real load has: yesterday is a stale anchor
    y += np.cumsum(np.random.default_rng(7).normal(0, 1.5, y.size))
    train_end = 10 * DAY
    model = SeasonalForecaster().fit(y.iloc[:train_end])
    ours, naive = [], []
    for origin in range(train_end, y.size - 12, 11):
        fc = model.predict(12, context=y.iloc[train_end - DAY : origin])
        actual = y.iloc[origin : origin + 12].to_numpy()
        ours.append(np.abs(actual - fc["mean"].to_numpy()))
        naive.append(np.abs(actual - y.iloc[origin - DAY : origin - DAY + 12].to_numpy()))
    assert np.mean(np.concatenate(ours)) < 0.8 * np.mean(np.concatenate(naive))


def test_output_frame_shape_and_timestamps() -> None:
    y = synthetic(3)
    fc = SeasonalForecaster().fit(y).predict(15, levels=(80, 95))
    assert list(fc.columns) == ["unique_id", "ds", "mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    assert len(fc) == 15 and (fc["unique_id"] == "cpu").all()
    expected = pd.date_range(y.index[-1] + pd.Timedelta("5min"), periods=15, freq="5min")
    pd.testing.assert_index_equal(pd.DatetimeIndex(fc["ds"]), expected, check_names=False)
    assert (fc["lo-95"] <= fc["lo-80"]).all() and (fc["lo-80"] <= fc["mean"]).all()
    assert (fc["mean"] <= fc["hi-80"]).all() and (fc["hi-80"] <= fc["hi-95"]).all()


def test_context_moves_the_origin_and_conditions_on_a_jump() -> None:
    y = synthetic(5, seed=3)
    model = SeasonalForecaster().fit(y.iloc[: 4 * DAY])
    fresh = y.iloc[4 * DAY : 4 * DAY + 60]
    plain = model.predict(6, context=fresh)
    jumped = model.predict(6, context=fresh + 100.0)
    assert plain["ds"].iloc[0] == fresh.index[-1] + pd.Timedelta("5min")
    assert (jumped["mean"] - plain["mean"]).iloc[0] > 50  # the recent level carries over


def test_update_matches_predict_with_the_same_context() -> None:
    y = synthetic(5, seed=4)
    model = SeasonalForecaster().fit(y.iloc[: 4 * DAY])
    fresh = y.iloc[4 * DAY : 4 * DAY + 40]
    with_context = model.predict(10, levels=(80,), context=fresh)
    updated = model.update(fresh).predict(10, levels=(80,))
    pd.testing.assert_frame_equal(with_context, updated)


def test_nan_gaps_are_handled() -> None:
    y = synthetic(4, seed=5)
    y.iloc[100:160] = np.nan
    y.iloc[-3:] = np.nan
    fc = SeasonalForecaster().fit(y.drop(y.index[500:520])).predict(12, levels=(80,))
    assert np.isfinite(fc[["mean", "lo-80", "hi-80"]].to_numpy()).all()


def test_seasons_follow_the_step_and_the_history_length() -> None:
    assert SeasonalForecaster().fit(synthetic(3)).seasons_.daily == DAY
    assert SeasonalForecaster().fit(synthetic(3)).seasons_.weekly == 0
    assert SeasonalForecaster().fit(synthetic(14.5)).seasons_.weekly == 7 * DAY
    one_minute = SeasonalForecaster(direct_horizon=15).fit(synthetic(2.5, freq="1min"))
    assert one_minute.seasons_.daily == 1440


def test_long_horizons_beyond_the_direct_steps_stay_finite_and_ordered() -> None:
    fc = SeasonalForecaster(direct_horizon=12).fit(synthetic(4)).predict(600, levels=(80,))
    values = fc[["lo-80", "mean", "hi-80"]].to_numpy()
    assert np.isfinite(values).all() and (np.diff(values, axis=1) >= 0).all()
    # the daily cycle persists beyond the regression steps
    assert fc["mean"].iloc[100:600].max() - fc["mean"].iloc[100:600].min() > 100


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 0}, r"horizon must be in \[1, 10080\], got 0"),
        ({"horizon": 10081}, "got 10081"),
        ({"horizon": 3, "levels": (100,)}, r"levels must be in \(0, 100\), got 100"),
    ],
)
def test_predict_validation_quotes_the_bad_value(kwargs: dict, message: str) -> None:
    model = SeasonalForecaster().fit(synthetic(3))
    horizon = kwargs.pop("horizon")
    with pytest.raises(InputError, match=message):
        model.predict(horizon, **kwargs)


def test_fit_validation_quotes_the_bad_value() -> None:
    with pytest.raises(InputError, match="got list"):
        SeasonalForecaster().fit([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(InputError, match="profile_days must be >= 1, got 0"):
        SeasonalForecaster(profile_days=0).fit(synthetic(3))
    with pytest.raises(InputError, match="at least 8 observations, got 3"):
        SeasonalForecaster().fit(synthetic(3).iloc[:3])
