"""Short-horizon upper quantiles of demand over a start-up lead time (online, conformal).

A replica started now is ready after the lead time L, so a scaler must cover the *largest*
demand of the next L + 1 steps. This model predicts that maximum from the last observation
plus two learned parts:

* a seasonal jump: the median, over the same time of day in the previous days, of how far
  the next L + 1 steps rose above the last observation (cron jobs, the morning ramp);
* a conformal spread: an empirical quantile of the remaining error, scaled by the recent
  volatility (mean absolute one-step change), over a rolling calibration window.

Everything is causal: an error enters the calibration window only once its whole lead-time
window has been observed. Updates are O(window) with no refit, so it runs every minute.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Self

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from nexus_ml.errors import InputError


class _Buffer:
    """A growable float array: O(1) amortised append, numpy views without copies."""

    def __init__(self) -> None:
        self._data = np.empty(1024)
        self._n = 0

    def append(self, value: float) -> None:
        if self._n == len(self._data):
            self._data = np.concatenate((self._data, np.empty(len(self._data))))
        self._data[self._n] = value
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> float:
        if i < 0:
            i += self._n
        return float(self._data[i])

    def view(self, start: int, stop: int) -> np.ndarray:
        return self._data[start:stop]


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        raise InputError(f"{name} must be in [{lo}, {hi}], got {value!r}")


class LeadTimeQuantileForecaster(BaseEstimator):  # type: ignore[misc]
    """Upper quantile of max(y[t], …, y[t+L]) given observations up to t − 1.

    Parameters
    ----------
    lead_time : int
        L, steps until a started replica is ready.
    level : float
        Quantile level of the upper bound (0.95 covers the lead-time peak 95 % of the time).
    vol_window : int
        Steps of recent one-step changes that set the spread's scale.
    calib_window : int
        Steps of past errors the conformal quantile is taken over.
    season : int
        Steps per day (1440 at 1-minute steps); the seasonal jump looks back whole seasons.
    seasonal_days : int
        How many previous seasons the seasonal jump takes the median of.
    """

    def __init__(
        self,
        *,
        lead_time: int = 2,
        level: float = 0.95,
        vol_window: int = 30,
        calib_window: int = 1440,
        season: int = 1440,
        seasonal_days: int = 7,
    ) -> None:
        self.lead_time = lead_time
        self.level = level
        self.vol_window = vol_window
        self.calib_window = calib_window
        self.season = season
        self.seasonal_days = seasonal_days

    def _validate(self) -> None:
        _check_range("lead_time", self.lead_time, 0, 1440)
        _check_range("level", self.level, 0.5, 0.9999)
        _check_range("vol_window", self.vol_window, 2, 100_000)
        _check_range("calib_window", self.calib_window, 10, 1_000_000)
        _check_range("season", self.season, 1, 100_000)
        _check_range("seasonal_days", self.seasonal_days, 0, 60)

    def fit(self, y: Iterable[float]) -> Self:
        """Learn from a history (oldest first); NaNs are carried forward."""
        self._validate()
        self.y_ = _Buffer()
        self.abs_change_sum_ = _Buffer()  # cumulative |y[i] − y[i−1]|, for O(1) volatility
        self.vol_ = _Buffer()  # volatility known when predicting from origin i
        self.jump_ = _Buffer()  # observed max(y[i+1..i+1+L]) − y[i], once known
        self.z_ = _Buffer()  # standardised residual errors, oldest first
        self.update(y)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "y_"):
            raise NotFittedError("LeadTimeQuantileForecaster is not fitted; call fit first")

    def update(self, y_new: Iterable[float]) -> Self:
        """Append observations without refitting."""
        self._check_fitted()
        y, L = self.y_, self.lead_time
        for raw in y_new:
            value = float(raw)
            if not np.isfinite(value):
                value = y[-1] if len(y) else 0.0
            change = abs(value - y[-1]) if len(y) else 0.0
            total = (self.abs_change_sum_[-1] if len(y) else 0.0) + change
            y.append(value)
            self.abs_change_sum_.append(total)
            n = len(y)
            w = min(self.vol_window, n - 1)
            vol = (total - self.abs_change_sum_[n - 1 - w]) / w if w > 0 else 0.0
            self.vol_.append(vol + 1e-9)
            origin = n - 2 - L  # the origin whose lead-time window just closed
            if origin >= 0:
                jump = float(y.view(origin + 1, origin + 2 + L).max()) - y[origin]
                self.jump_.append(jump)
                self.z_.append((jump - self._seasonal_jump(origin)) / self.vol_[origin])
        return self

    def _seasonal_jump(self, origin: int) -> float:
        past = [
            self.jump_[i]
            for i in range(
                origin - self.season, origin - self.season * (self.seasonal_days + 1), -self.season
            )
            if 0 <= i < len(self.jump_)
        ]
        return statistics.median(past) if past else 0.0

    def _centre_and_errors(self) -> tuple[float, float, np.ndarray]:
        self._check_fitted()
        if not self.y_:
            raise NotFittedError("LeadTimeQuantileForecaster has seen no observation")
        origin = len(self.y_) - 1
        centre = self.y_[origin] + self._seasonal_jump(origin)
        n = len(self.z_)
        errors = self.z_.view(max(0, n - self.calib_window), n)
        return centre, self.vol_[origin], errors

    def predict_upper(self, level: float | None = None) -> float:
        """Upper ``level`` quantile of the peak over the next lead-time window."""
        centre, vol, errors = self._centre_and_errors()
        if errors.size == 0:
            return centre
        return centre + float(np.quantile(errors, level or self.level)) * vol

    def exceed_probability(self, threshold: float) -> float:
        """P(peak over the next lead-time window > ``threshold``), from the calibration errors."""
        centre, vol, errors = self._centre_and_errors()
        if errors.size == 0:
            return float(centre > threshold)
        return float(np.mean(centre + errors * vol > threshold))
