"""Conformal intervals of the seasonal forecaster: finite-sample correction, recency weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nexus_ml.errors import InputError
from nexus_ml.models.forecast.design import (
    error_mass,
    error_quantiles,
    interval_offsets,
    recency_weights,
)
from nexus_ml.models.forecast.seasonal import SeasonalForecaster


def test_finite_sample_correction_restores_coverage_with_few_errors() -> None:
    """With 19 exchangeable calibration errors the plain empirical 90 % quantile covers a new
    error about 86 % of the time; the split-conformal quantile at least 90 %."""
    rng = np.random.default_rng(0)
    n, draws = 19, 4000
    plain, corrected = [], []
    for _ in range(draws):
        calib, new = rng.normal(size=n), rng.normal()
        grid = error_quantiles(calib)[None, :]
        _, hi_plain = interval_offsets(grid, 80.0)
        _, hi = interval_offsets(grid, 80.0, np.array([error_mass(calib)]))
        plain.append(new <= hi_plain[0])
        corrected.append(new <= hi[0])
    assert np.mean(plain) < 0.88
    assert 0.895 <= np.mean(corrected) <= 0.93


def test_correction_vanishes_with_many_errors() -> None:
    errors = np.random.default_rng(1).normal(size=5000)
    grid = error_quantiles(errors)[None, :]
    plain = interval_offsets(grid, 80.0)
    corrected = interval_offsets(grid, 80.0, np.array([5000.0]))
    assert corrected[0][0] <= plain[0][0] and corrected[1][0] >= plain[1][0]
    assert corrected[1][0] - plain[1][0] < 0.01


def test_weighted_quantiles_follow_the_recent_errors() -> None:
    old, recent = np.zeros(900), np.full(100, 10.0)
    errors = np.r_[old, recent]
    ages = np.r_[np.arange(1000, 100, -1), np.arange(100, 0, -1)]  # in 5-minute steps
    weights = recency_weights(ages, 300, half_life_days=0.05)  # 72 minutes
    assert weights is not None and weights.max() <= 1.0
    grid = error_quantiles(errors, weights)
    assert grid[200] == pytest.approx(10.0)  # the weighted median is a recent error
    assert error_quantiles(errors)[200] == 0.0  # unweighted, the old errors dominate
    assert recency_weights(ages, 300, 0.0) is None


def noisy_days(days: int, calm_days: int, seed: int = 0) -> pd.Series:
    """A daily cycle at 5-minute steps whose noise triples after ``calm_days``."""
    rng = np.random.default_rng(seed)
    n = days * 288
    t = np.arange(n)
    sd = np.where(t < calm_days * 288, 2.0, 6.0)
    values = 100 + 30 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 1, n) * sd
    index = pd.date_range("2026-03-02", periods=n, freq="5min", tz="UTC")
    return pd.Series(values, index=index, name="demand")


def test_recency_weighted_intervals_widen_after_the_noise_grows() -> None:
    y = noisy_days(10, calm_days=8)
    widths = {}
    for days in (0.0, 1.0):
        frame = SeasonalForecaster(recency_days=days, calendar=False).fit(y).predict(12)
        widths[days] = float((frame["hi-80"] - frame["lo-80"]).mean())
    # Errors of the last two (noisy) days weigh most with a one-day half-life.
    assert widths[1.0] > 1.2 * widths[0.0]


def test_recency_days_out_of_range_is_rejected_with_the_value() -> None:
    with pytest.raises(InputError, match=r"recency_days.*got -1"):
        SeasonalForecaster(recency_days=-1).fit(noisy_days(2, calm_days=2))
