"""Short-horizon upper quantiles of demand over a start-up lead time (online, conformal).

A replica started now is ready after the lead time L, so a scaler must cover the *largest*
demand of the next L + 1 steps. This model predicts that maximum as a centre plus two learned
parts, for several candidate centres at once, and uses the candidate whose predictive
distribution fitted the recent past best:

* the centres: blends ``w · last + (1 − w) · median of the last few observations`` (spikes
  revert, so on spiky demand a robust centre gives tighter bounds at the same coverage, while
  on smooth ramps the last value is best) and a ridge regression on the last observations
  (short-term memory: persistence, mean reversion, alternation), each with and without
  the seasonal jump;
* a seasonal jump: the median, over the same time of day in the previous days, of how far
  the next L + 1 steps rose above the centre (cron jobs, the morning ramp). Series whose days
  do not repeat are better served without it, and the candidates without it say so;
* a conformal spread: empirical quantiles of the remaining error, scaled by the recent
  volatility (mean absolute one-step change), over a rolling calibration window.

Candidates are ranked by the mean pinball loss of their quantiles at several levels (an
approximation of the CRPS, a proper score of the whole distribution, which is what decisions
read through :meth:`LeadTimeQuantileForecaster.exceed_probabilities`). Everything is causal:
an error (and a candidate's loss) enters the windows only once its whole lead-time window has
been observed. Updates are O(window) with no refit beyond the small ridge solve every hour, so
it runs every minute.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Self

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from nexus_ml.errors import InputError
from nexus_ml.models.forecast.growable import GrowableArray
from nexus_ml.models.forecast.lag_regression import LagRegression

# Quantile levels a candidate's predictive distribution is scored on (see the module doc).
_LOSS_LEVELS = np.array([0.5, 0.75, 0.9, 0.95, 0.98])


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
        Steps of past errors the conformal quantiles (and the candidates' losses) are taken
        over.
    season : int
        Steps per day (1440 at 1-minute steps); the seasonal jump looks back whole seasons.
    seasonal_days : int
        How many previous seasons the seasonal jump takes the median of.
    seasonal_choice : bool
        Also run every centre without the seasonal jump; the losses decide.
    centre_weights : tuple of float
        Candidate weights w of the last value in the blended centres (1.0: the last value).
    median_window : int
        Observations the robust part of the centre takes the median of.
    first_step : int
        First step ahead the peak is taken from (1: the whole window; L + 1: only the step at
        which a replica started now is ready, the only one a scale-up can still change).
    lags : int
        Observations the regression centre reads (0: no regression candidate).
    lag_fit_window : int
        Latest origins the regression is refitted on.
    """

    _REFRESH = 10  # steps between refreshes of the candidates' error quantiles
    _REFIT = 60  # steps between refits of the regression

    def __init__(
        self,
        *,
        lead_time: int = 2,
        level: float = 0.95,
        vol_window: int = 30,
        calib_window: int = 1440,
        season: int = 1440,
        seasonal_days: int = 7,
        seasonal_choice: bool = True,
        centre_weights: tuple[float, ...] = (0.0, 0.5, 1.0),
        median_window: int = 5,
        first_step: int = 1,
        lags: int = 10,
        lag_fit_window: int = 4320,
    ) -> None:
        self.lead_time = lead_time
        self.level = level
        self.vol_window = vol_window
        self.calib_window = calib_window
        self.season = season
        self.seasonal_days = seasonal_days
        self.seasonal_choice = seasonal_choice
        self.centre_weights = centre_weights
        self.median_window = median_window
        self.first_step = first_step
        self.lags = lags
        self.lag_fit_window = lag_fit_window

    def _validate(self) -> None:
        _check_range("lead_time", self.lead_time, 0, 1440)
        _check_range("level", self.level, 0.5, 0.9999)
        _check_range("vol_window", self.vol_window, 2, 100_000)
        _check_range("calib_window", self.calib_window, 10, 1_000_000)
        _check_range("season", self.season, 1, 100_000)
        _check_range("seasonal_days", self.seasonal_days, 0, 60)
        _check_range("median_window", self.median_window, 1, 10_000)
        _check_range("first_step", self.first_step, 1, self.lead_time + 1)
        _check_range("lags", self.lags, 0, 1440)
        _check_range("lag_fit_window", self.lag_fit_window, 100, 1_000_000)
        if not self.centre_weights:
            raise InputError("centre_weights must name at least one weight, got ()")
        for w in self.centre_weights:
            _check_range("centre weight", w, 0.0, 1.0)

    def fit(self, y: Iterable[float]) -> Self:
        """Learn from a history (oldest first); NaNs are carried forward."""
        self._validate()
        self.regression_ = (
            LagRegression(lags=self.lags, window=self.lag_fit_window, refit=self._REFIT)
            if self.lags
            else None
        )
        # The candidates: blend weights (NaN: the regression), with and without seasonal jump.
        weights = [float(w) for w in self.centre_weights]
        if self.regression_ is not None:
            weights.append(float("nan"))
        seasonal = (True, False) if self.seasonal_choice and self.seasonal_days else (True,)
        self.weights_ = np.array([w for _ in seasonal for w in weights])
        self.seasonal_ = np.array([s for s in seasonal for _ in weights])
        # Until losses are known (and on ties) the last-value-heaviest blend goes first.
        # (lexsort's last key is the primary one: the weight, the regression last; then seasonal)
        weight_first = -np.where(np.isnan(self.weights_), -1.0, self.weights_)
        self.order_ = np.lexsort((~self.seasonal_, weight_first))
        k = self.weights_.size
        self.y_ = GrowableArray()
        self.abs_change_sum_ = GrowableArray()  # cumulative |y[i] − y[i−1]|, O(1) volatility
        self.vol_ = GrowableArray()  # volatility known when predicting from origin i
        self.level_ = GrowableArray()  # the robust level (median) at origin i
        self.centre_ = GrowableArray(k)  # each candidate's centre at origin i
        self.seasonal_jump_ = GrowableArray(k)  # … the seasonal jump it added at origin i
        self.jump_ = GrowableArray(k)  # observed peak − centre of origin i, once known
        self.z_ = GrowableArray(k)  # standardised residual errors, once known
        self.quantiles_ = GrowableArray((k, _LOSS_LEVELS.size))  # predicted from origin i
        self.loss_sum_ = GrowableArray(k)  # cumulative pinball loss, once known
        self.error_quantiles_ = np.zeros((k, _LOSS_LEVELS.size))
        self.peaks_cache_: tuple[int, float, np.ndarray] | None = None
        self.update(y)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "y_"):
            raise NotFittedError("LeadTimeQuantileForecaster is not fitted; call fit first")

    def update(self, y_new: Iterable[float]) -> Self:
        """Append observations without refitting."""
        self._check_fitted()
        for raw in y_new:
            self._append(float(raw))
        return self

    def _append(self, value: float) -> None:
        y = self.y_
        if not np.isfinite(value):
            value = y.at(-1) if len(y) else 0.0
        change = abs(value - y.at(-1)) if len(y) else 0.0
        total = (self.abs_change_sum_.at(-1) if len(y) else 0.0) + change
        y.append(value)
        self.abs_change_sum_.append(total)
        n = len(y)
        w = min(self.vol_window, n - 1)
        vol = (total - self.abs_change_sum_.at(n - 1 - w)) / w if w > 0 else 0.0
        self.vol_.append(vol + 1e-9)

        origin = n - 2 - self.lead_time  # the origin whose lead-time window just closed
        if origin >= 0:
            self._close(origin, float(y.view(origin + self.first_step, n).max()))

        median = statistics.median(y.view(max(0, n - self.median_window), n).tolist())
        self.level_.append(median)
        regressed = median
        if self.regression_ is not None:
            regressed = self.regression_.add_origin(y.view(max(0, n - self.lags), n), median)
        weights = self.weights_
        centre = np.where(np.isnan(weights), regressed, weights * value + (1 - weights) * median)
        self.centre_.append(centre)
        jump = self._seasonal_jumps(n - 1)
        self.seasonal_jump_.append(jump)
        # The quantiles only rank candidates, so the error quantiles over a day-long window
        # may be a few steps stale: refreshing them every step would triple the cost.
        if n % self._REFRESH == 0 or len(self.z_) <= self._REFRESH:
            errors = self._errors()
            if len(errors):
                self.error_quantiles_ = np.quantile(errors, _LOSS_LEVELS, axis=0).T
        self.quantiles_.append((centre + jump)[:, None] + self.error_quantiles_ * vol)

    def _close(self, origin: int, peak: float) -> None:
        """Record the errors and the losses of ``origin``, whose window is now observed."""
        if self.regression_ is not None:
            self.regression_.close(peak - self.level_.at(origin))
        jump = peak - self.centre_.row(origin)
        self.jump_.append(jump)
        self.z_.append((jump - self.seasonal_jump_.row(origin)) / self.vol_.at(origin))
        miss = peak - self.quantiles_.row(origin)
        loss = np.where(miss > 0, _LOSS_LEVELS * miss, (_LOSS_LEVELS - 1.0) * miss).mean(axis=1)
        self.loss_sum_.append(loss + (self.loss_sum_.last() if len(self.loss_sum_) else 0.0))

    def _seasonal_jumps(self, origin: int) -> np.ndarray:
        """Median jump at origin − k·season for k = 1 … seasonal_days, among the known ones
        (zero for the candidates without the seasonal jump)."""
        season = self.season
        known = len(self.jump_)
        k_first = max(1, -(-(origin - known + 1) // season))  # smallest k with a known jump
        k_last = min(self.seasonal_days, origin // season)  # largest k inside the history
        if k_first > k_last:
            return np.zeros(self.weights_.size)
        past = self.jump_.view(origin - season * k_last, origin - season * k_first + 1)[::season]
        return np.asarray(np.median(past, axis=0) * self.seasonal_, dtype=float)

    def _errors(self) -> np.ndarray:
        n = len(self.z_)
        return self.z_.view(max(0, n - self.calib_window), n)

    def _selected(self) -> int:
        """The candidate whose quantiles had the lowest loss over the calibration window."""
        self._check_fitted()
        if not len(self.y_):
            raise NotFittedError("LeadTimeQuantileForecaster has seen no observation")
        n = len(self.loss_sum_)
        if n == 0:
            return int(self.order_[0])
        w = min(self.calib_window, n)
        recent = self.loss_sum_.row(n - 1) - (self.loss_sum_.row(n - 1 - w) if n > w else 0.0)
        return int(self.order_[np.argmin(recent[self.order_])])  # ties: the priority order

    @property
    def centre_weight(self) -> float | None:
        """The weight of the last value in the centre in use (``None``: the regression)."""
        weight = float(self.weights_[self._selected()])
        return None if np.isnan(weight) else weight

    def _peaks(self, cand: int) -> tuple[float, np.ndarray, float]:
        """Centre, standardised errors and scale of candidate ``cand`` at the last origin."""
        origin = len(self.y_) - 1
        centre = self.centre_.row(origin)[cand] + self.seasonal_jump_.row(origin)[cand]
        return float(centre), self._errors()[:, cand], self.vol_.at(origin)

    def _sorted_peaks(self) -> tuple[float, np.ndarray]:
        """The centre and the sorted predictive sample of the peak at the last origin.

        Cached until the next observation: a decision reads several probabilities and the
        upper quantile of the same distribution, and each would otherwise sort it again.
        """
        self._check_fitted()
        key = len(self.y_)  # every change of state appends an observation
        cached = self.peaks_cache_
        if cached is not None and cached[0] == key:
            return cached[1], cached[2]
        centre, errors, scale = self._peaks(self._selected())
        peaks = np.sort(centre + errors * scale) if errors.size else np.empty(0)
        self.peaks_cache_ = (key, centre, peaks)
        return centre, peaks

    def predict_upper(self, level: float | None = None) -> float:
        """Upper ``level`` quantile of the peak over the next lead-time window."""
        centre, peaks = self._sorted_peaks()
        if peaks.size == 0:
            return centre
        # numpy's default (linear) quantile, read off the sorted sample
        pos = (level or self.level) * (peaks.size - 1)
        lo = int(pos)
        hi = min(lo + 1, peaks.size - 1)
        return float(peaks[lo] + (pos - lo) * (peaks[hi] - peaks[lo]))

    def exceed_probability(self, threshold: float) -> float:
        """P(peak over the next lead-time window > ``threshold``), from the calibration errors."""
        return float(self.exceed_probabilities(np.asarray([threshold]))[0])

    def exceed_probabilities(self, thresholds: np.ndarray) -> np.ndarray:
        """:meth:`exceed_probability` of every threshold (one sort for all of them)."""
        centre, peaks = self._sorted_peaks()
        thresholds = np.asarray(thresholds, dtype=float)
        if peaks.size == 0:
            return (centre > thresholds).astype(float)
        above = peaks.size - np.searchsorted(peaks, thresholds, side="right")
        return np.asarray(above / peaks.size, dtype=float)
