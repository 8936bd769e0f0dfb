"""Short-horizon upper quantiles of demand over a start-up lead time (online, conformal).

A replica started now is ready after the lead time L, so a scaler must cover the *largest*
demand of the next L + 1 steps. This model predicts that maximum from a centre plus two
learned parts:

* the centre: a blend ``w · last + (1 − w) · median of the last few observations``. Spikes
  revert, so on spiky demand a robust centre gives tighter bounds at the same coverage, while
  on smooth ramps the last value is best. Every candidate weight runs its own conformal model
  and the one with the lowest recent pinball loss of its upper quantile is used: the blend is
  learned online from each trace's own past;
* a seasonal jump: the median, over the same time of day in the previous days, of how far
  the next L + 1 steps rose above the centre (cron jobs, the morning ramp);
* a conformal spread: an empirical quantile of the remaining error, scaled by the recent
  volatility (mean absolute one-step change), over a rolling calibration window.

Everything is causal: an error (and a candidate's loss) enters the windows only once its whole
lead-time window has been observed. Updates are O(window) with no refit, so it runs every
minute.
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


class _Candidate:
    """One centre weight's conformal model: its jumps, errors and the loss of its bounds."""

    def __init__(self, weight: float) -> None:
        self.weight = weight
        self.centre = _Buffer()  # centre at origin i
        self.jump = _Buffer()  # observed max(y[i+1..i+1+L]) − centre[i], once known
        self.z = _Buffer()  # standardised residual errors, oldest first
        self.upper = _Buffer()  # the upper quantile it predicted from origin i
        self.loss_sum = _Buffer()  # cumulative pinball loss of those bounds, once known
        self.error_quantile = 0.0  # its errors' upper quantile, refreshed every few steps


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
    centre_weights : tuple of float
        Candidate weights w of the last value in the centre (1.0: the last value alone).
    median_window : int
        Observations the robust part of the centre takes the median of.
    first_step : int
        First step ahead the peak is taken from (1: the whole window; L + 1: only the step at
        which a replica started now is ready, the only one a scale-up can still change).
    """

    _REFRESH = 10  # steps between refreshes of a candidate's error quantile

    def __init__(
        self,
        *,
        lead_time: int = 2,
        level: float = 0.95,
        vol_window: int = 30,
        calib_window: int = 1440,
        season: int = 1440,
        seasonal_days: int = 7,
        centre_weights: tuple[float, ...] = (0.0, 0.5, 1.0),
        median_window: int = 5,
        first_step: int = 1,
    ) -> None:
        self.lead_time = lead_time
        self.level = level
        self.vol_window = vol_window
        self.calib_window = calib_window
        self.season = season
        self.seasonal_days = seasonal_days
        self.centre_weights = centre_weights
        self.median_window = median_window
        self.first_step = first_step

    def _validate(self) -> None:
        _check_range("lead_time", self.lead_time, 0, 1440)
        _check_range("level", self.level, 0.5, 0.9999)
        _check_range("vol_window", self.vol_window, 2, 100_000)
        _check_range("calib_window", self.calib_window, 10, 1_000_000)
        _check_range("season", self.season, 1, 100_000)
        _check_range("seasonal_days", self.seasonal_days, 0, 60)
        _check_range("median_window", self.median_window, 1, 10_000)
        _check_range("first_step", self.first_step, 1, self.lead_time + 1)
        if not self.centre_weights:
            raise InputError("centre_weights must name at least one weight, got ()")
        for w in self.centre_weights:
            _check_range("centre weight", w, 0.0, 1.0)

    def fit(self, y: Iterable[float]) -> Self:
        """Learn from a history (oldest first); NaNs are carried forward."""
        self._validate()
        self.y_ = _Buffer()
        self.abs_change_sum_ = _Buffer()  # cumulative |y[i] − y[i−1]|, for O(1) volatility
        self.vol_ = _Buffer()  # volatility known when predicting from origin i
        self.candidates_ = [_Candidate(float(w)) for w in self.centre_weights]
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
            peak = float(y.view(origin + self.first_step, n).max()) if origin >= 0 else 0.0
            median = statistics.median(y.view(max(0, n - self.median_window), n).tolist())
            for cand in self.candidates_:
                if origin >= 0:
                    self._close(cand, origin, peak)
                cand.centre.append(cand.weight * value + (1.0 - cand.weight) * median)
                # The bounds only rank candidates, so the error quantile over a day-long window
                # may be a few steps stale: refreshing it every step would triple the cost.
                if n % self._REFRESH == 0 or len(cand.z) <= self._REFRESH:
                    errors = self._errors(cand)
                    cand.error_quantile = (
                        float(np.quantile(errors, self.level)) if errors.size else 0.0
                    )
                cand.upper.append(
                    cand.centre[n - 1]
                    + self._seasonal_jump(cand, n - 1)
                    + cand.error_quantile * self.vol_[n - 1]
                )
        return self

    def _close(self, cand: _Candidate, origin: int, peak: float) -> None:
        """Record the error and the bound's loss of ``origin``, whose window is now observed."""
        jump = peak - cand.centre[origin]
        cand.jump.append(jump)
        cand.z.append((jump - self._seasonal_jump(cand, origin)) / self.vol_[origin])
        miss = peak - cand.upper[origin]
        loss = self.level * miss if miss > 0 else (self.level - 1.0) * miss
        cand.loss_sum.append((cand.loss_sum[-1] if len(cand.loss_sum) else 0.0) + loss)

    def _seasonal_jump(self, cand: _Candidate, origin: int) -> float:
        """Median jump at origin − k·season for k = 1 … seasonal_days, among the known ones."""
        season = self.season
        known = len(cand.jump)
        k_first = max(1, -(-(origin - known + 1) // season))  # smallest k with a known jump
        k_last = min(self.seasonal_days, origin // season)  # largest k inside the history
        if k_first > k_last:
            return 0.0
        past = cand.jump.view(origin - season * k_last, origin - season * k_first + 1)[::season]
        return float(statistics.median(past.tolist()))

    def _errors(self, cand: _Candidate) -> np.ndarray:
        n = len(cand.z)
        return cand.z.view(max(0, n - self.calib_window), n)

    def _upper(self, cand: _Candidate, origin: int, level: float) -> float:
        centre = cand.centre[origin] + self._seasonal_jump(cand, origin)
        errors = self._errors(cand)
        if errors.size == 0:
            return centre
        return centre + float(np.quantile(errors, level)) * self.vol_[origin]

    def _recent_loss(self, cand: _Candidate) -> float:
        n = len(cand.loss_sum)
        if n == 0:
            return 0.0
        w = min(self.calib_window, n)
        before = cand.loss_sum[n - 1 - w] if n > w else 0.0
        return (cand.loss_sum[-1] - before) / w

    def _selected(self) -> _Candidate:
        """The candidate whose bounds had the lowest pinball loss over the calibration window
        (the last-value-heaviest one until losses are known)."""
        self._check_fitted()
        if not self.y_:
            raise NotFittedError("LeadTimeQuantileForecaster has seen no observation")
        ranked = sorted(self.candidates_, key=lambda c: (self._recent_loss(c), -c.weight))
        return ranked[0]

    @property
    def centre_weight(self) -> float:
        """The weight of the last value in the centre currently in use."""
        return self._selected().weight

    def predict_upper(self, level: float | None = None) -> float:
        """Upper ``level`` quantile of the peak over the next lead-time window."""
        cand = self._selected()
        return self._upper(cand, len(self.y_) - 1, level or self.level)

    def exceed_probability(self, threshold: float) -> float:
        """P(peak over the next lead-time window > ``threshold``), from the calibration errors."""
        return float(self.exceed_probabilities(np.asarray([threshold]))[0])

    def exceed_probabilities(self, thresholds: np.ndarray) -> np.ndarray:
        """:meth:`exceed_probability` of every threshold (one sort for all of them)."""
        cand = self._selected()
        origin = len(self.y_) - 1
        centre = cand.centre[origin] + self._seasonal_jump(cand, origin)
        errors = self._errors(cand)
        thresholds = np.asarray(thresholds, dtype=float)
        if errors.size == 0:
            return (centre > thresholds).astype(float)
        peaks = np.sort(centre + errors * self.vol_[origin])
        above = peaks.size - np.searchsorted(peaks, thresholds, side="right")
        return np.asarray(above / peaks.size, dtype=float)
