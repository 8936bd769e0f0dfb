"""Seasonal demand forecaster with calibrated intervals (scikit-learn contract).

See :mod:`nexus_ml.models.forecast.design` for the model itself (robust daily/weekly profile,
direct ridge regression of the remainder per horizon step with calendar effects, conformal
intervals). This module holds the estimator: validation, the regular grid, the state that lets
:meth:`SeasonalForecaster.predict` condition on fresh observations without refitting, and the
output frame (statsforecast's long shape: ``unique_id, ds, mean, lo-<level>, hi-<level>``).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from nexus_ml.errors import InputError
from nexus_ml.features.calendar import DEFAULT_TZ
from nexus_ml.models.forecast.design import (
    Seasons,
    cal_at,
    calendar_matrix,
    calendar_terms,
    design,
    error_mass,
    error_quantiles,
    forecast_design,
    interval_offsets,
    noise_level,
    profile_at,
    recency_weights,
    ridge_fit,
    seasonal_profile,
    state_features,
    thin,
)
from nexus_ml.models.forecast.state import NS, GridState, align_to_grid, to_utc_series

MAX_HORIZON = 10080
DAY_SECONDS = 86400
_NONE = np.zeros(1)  # "no weekly correction": profile_at(steps, daily, _NONE) is the daily profile


class SeasonalForecaster(BaseEstimator):  # type: ignore[misc]
    """Forecast a regular metric series with daily/weekly seasonality and calendar effects.

    Parameters
    ----------
    season_lengths
        Seasonal periods in steps, daily first (e.g. ``(288, 2016)`` at 5-minute steps). ``None``
        derives them from the step: daily, plus weekly with at least two weeks of history.
    levels
        Default interval levels (percent) of :meth:`predict`'s ``levels`` documentation; kept as
        a hyper-parameter so pipelines can log it.
    profile_days
        Days of history the daily profile is the median over.
    direct_horizon
        Horizon steps with their own regression; beyond it, a profile + calendar model.
    penalty
        Ridge penalty on the standardised remainder features.
    huber_steps
        Reweighting rounds of a Huber fit of the regressions (0 = least squares).
    calibration_folds
        Blocks of the training window for cross-fitted interval errors (1 = in-sample errors).
    recent_folds
        How many of the most recent blocks supply the interval errors, per horizon step (each
        block is forecast by a model fitted without it, so its errors are out-of-sample). All of
        them by default: with a week or two of history the last block may hold the only
        weekend, and its errors alone are one-sided (see ``docs/model-selection.md``).
    volatility_hours
        Interval errors are measured relative to the noise level of the last
        ``volatility_hours`` (locally adaptive conformal intervals); 0 keeps them absolute.
    recency_days
        Half-life, in days, of the weight of an interval error by the age of its origin
        (recent residuals count more: weighted conformal quantiles); 0 weighs all alike.
        Either way the quantiles carry the finite-sample correction of split conformal
        prediction (see :func:`~nexus_ml.models.forecast.design.interval_offsets`).
    calendar
        Use São Paulo business hours, weekend and month-end at the target as features.
    tz
        Time zone of the calendar.
    """

    def __init__(
        self,
        *,
        season_lengths: tuple[int, ...] | None = None,
        levels: tuple[int, ...] = (80, 95),
        profile_days: int = 7,
        direct_horizon: int = 48,
        penalty: float = 1.0,
        huber_steps: int = 3,
        calibration_folds: int = 3,
        recent_folds: int = 3,
        calendar: bool = True,
        volatility_hours: float = 0.0,
        recency_days: float = 0.0,
        tz: str = DEFAULT_TZ,
    ) -> None:
        self.season_lengths = season_lengths
        self.levels = levels
        self.profile_days = profile_days
        self.direct_horizon = direct_horizon
        self.penalty = penalty
        self.huber_steps = huber_steps
        self.calibration_folds = calibration_folds
        self.recent_folds = recent_folds
        self.calendar = calendar
        self.volatility_hours = volatility_hours
        self.recency_days = recency_days
        self.tz = tz

    # ------------------------------------------------------------------ fit
    def fit(self, y: pd.Series) -> SeasonalForecaster:
        """Learn the profile, the per-step regressions and the interval errors from ``y``.

        Parameters
        ----------
        y
            Observations on a regular grid (tz-aware timestamps; naive ones are taken as UTC);
            NaNs are allowed and are not used as targets. ``y.name`` is the series id.

        Returns
        -------
        SeasonalForecaster
            ``self``.

        Raises
        ------
        InputError
            Not a time-indexed series, too few observations, or bad hyper-parameters.
        """
        self._check_params()
        series = to_utc_series(y, "y")
        grid, step = align_to_grid(series)
        raw = grid.to_numpy(dtype=float)
        if np.isfinite(raw).sum() < 8:
            raise InputError(f"y needs at least 8 observations, got {int(np.isfinite(raw).sum())}")
        seasons = self._seasons(step, raw.size)
        horizon = self._direct_steps(seasons, raw.size)
        observed = np.isfinite(raw)
        values = pd.Series(raw).ffill().bfill().to_numpy()
        end_step = int(grid.index[-1].value // (step * 10**9))
        cal = calendar_matrix(grid.index, self.tz) if self.calendar else None

        daily, weekly = seasonal_profile(raw, end_step, seasons, self.profile_days)
        steps = np.arange(end_step - raw.size + 1, end_step + 1)
        base = profile_at(steps, daily, weekly)
        r = values - base
        cal_terms = (
            None if cal is None else calendar_terms(cal, base, profile_at(steps, daily, _NONE))
        )
        window = round(self.volatility_hours * 3600 / step)
        floor = max(0.25 * float(np.median(noise_level(r, window, 0.0))), 1e-9)
        allowed = np.arange(raw.size) >= seasons.memory
        coefs, errors, origins = self._fit_steps(
            r, observed, allowed, seasons, cal_terms, horizon, noise_level(r, window, floor)
        )
        long_coef, long_err = self._fit_long(r, observed, seasons, cal_terms, seasons.memory)
        if self.calibration_folds > 1 and allowed.sum() > self.calibration_folds * (horizon + 8):
            errors, origins = self._crossfit_errors(
                raw, values, observed, end_step, seasons, cal, horizon, window, floor
            )
        weights = [recency_weights(raw.size - o, step, self.recency_days) for o in origins]

        self.step_seconds_ = step
        self.seasons_ = seasons
        self.daily_profile_ = daily
        self.weekly_profile_ = weekly
        self.coef_ = coefs
        self.long_coef_ = long_coef
        self.error_quantiles_ = np.array(
            [error_quantiles(e, w) for e, w in zip(errors, weights, strict=True)]
        )
        self.error_mass_ = np.array(
            [error_mass(e, w) for e, w in zip(errors, weights, strict=True)]
        )
        self.noise_window_ = window
        self.noise_floor_ = floor
        self.long_error_quantiles_ = error_quantiles(long_err)
        self.long_error_mass_ = error_mass(long_err)
        self.nonnegative_ = bool(np.nanmin(raw) >= 0)
        self.series_id_ = str(y.name) if y.name is not None else "y"
        self.state_ = GridState.from_values(values, end_step, step, seasons.memory + 1)
        self.n_observations_ = int(observed.sum())
        return self

    def _crossfit_errors(
        self,
        raw: np.ndarray,
        values: np.ndarray,
        observed: np.ndarray,
        end_step: int,
        seasons: Seasons,
        cal: np.ndarray | None,
        horizon: int,
        window: int,
        floor: float,
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        # Each recent block of origins is forecast by a model (profile included) fitted without
        # it, so the interval errors are out-of-fit; the most recent blocks follow the regime
        # the next forecasts will meet.
        steps = np.arange(end_step - raw.size + 1, end_step + 1)
        positions = np.arange(raw.size)
        bounds = np.linspace(seasons.memory, raw.size, self.calibration_folds + 1).astype(int)
        errors: list[list[np.ndarray]] = [[] for _ in range(horizon)]
        at: list[list[np.ndarray]] = [[] for _ in range(horizon)]
        for lo, hi in list(itertools.pairwise(bounds))[-self.recent_folds :]:
            block = (positions >= lo) & (positions < hi)
            daily, weekly = seasonal_profile(
                np.where(block, np.nan, raw), end_step, seasons, self.profile_days
            )
            base = profile_at(steps, daily, weekly)
            r = values - base
            fold_cal = (
                None if cal is None else calendar_terms(cal, base, profile_at(steps, daily, _NONE))
            )
            noise = noise_level(r, window, floor)
            outside = ~block & (positions >= seasons.memory)
            coefs, _, _ = self._fit_steps(r, observed, outside, seasons, fold_cal, horizon, noise)
            state = state_features(r, seasons)
            for h in range(1, horizon + 1):
                origins = np.arange(lo, min(hi, raw.size - h))
                origins = thin(origins[observed[origins + h]])
                x = design(state, r, origins, h, seasons, cal_at(fold_cal, origins + h))
                errors[h - 1].append((r[origins + h] - x @ coefs[h - 1]) / noise[origins])
                at[h - 1].append(origins)
        return [np.concatenate(e) for e in errors], [np.concatenate(o) for o in at]

    def _fit_steps(
        self,
        r: np.ndarray,
        observed: np.ndarray,
        allowed: np.ndarray,
        seasons: Seasons,
        cal: np.ndarray | None,
        horizon: int,
        noise: np.ndarray,
    ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        state = state_features(r, seasons)
        coefs, residuals, at = [], [], []
        for h in range(1, horizon + 1):
            origins = thin(np.flatnonzero(allowed[: r.size - h] & observed[h:] & allowed[h:]))
            x = design(state, r, origins, h, seasons, cal_at(cal, origins + h))
            coef = ridge_fit(x, r[origins + h], self.penalty, self.huber_steps)
            coefs.append(coef)
            residuals.append((r[origins + h] - x @ coef) / noise[origins])
            at.append(origins)
        return np.array(coefs), residuals, at

    def _fit_long(
        self,
        r: np.ndarray,
        observed: np.ndarray,
        seasons: Seasons,
        cal: np.ndarray | None,
        first: int,
    ) -> tuple[np.ndarray, np.ndarray]:
        # Beyond the direct steps only the profile, the daily level and the calendar are known.
        lead = max(seasons.daily, self.direct_horizon)
        origins = np.arange(first, r.size - lead)
        if origins.size < 8:
            origins = np.arange(0, r.size - 1)
            lead = 1
        origins = origins[observed[origins + lead]]
        state = state_features(r, seasons)[:, 3:4]
        x = design(state, r, origins, lead, Seasons(0, 0), cal_at(cal, origins + lead))
        coef = ridge_fit(x, r[origins + lead], self.penalty, self.huber_steps)
        return coef, r[origins + lead] - x @ coef

    # -------------------------------------------------------------- predict
    def predict(
        self,
        horizon: int,
        *,
        levels: Sequence[int] = (80,),
        context: pd.Series | None = None,
    ) -> pd.DataFrame:
        """Forecast ``horizon`` steps after the last observation (of ``context`` if given).

        Parameters
        ----------
        horizon
            Steps ahead, in ``[1, 10080]``.
        levels
            Central interval levels in percent, each in ``(0, 100)``.
        context
            Recent observations (same step) after the training data; the forecast conditions on
            them without refitting.

        Returns
        -------
        pandas.DataFrame
            Columns ``unique_id, ds, mean`` then ``lo-<level>, hi-<level>`` per level.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        InputError
            A bad horizon, level or context.
        """
        check_is_fitted(self)
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
            raise InputError(f"horizon must be an integer, got {horizon!r}")
        if not 1 <= horizon <= MAX_HORIZON:
            raise InputError(f"horizon must be in [1, {MAX_HORIZON}], got {horizon}")
        for level in levels:
            if not 0 < level < 100:
                raise InputError(f"levels must be in (0, 100), got {level}")
        state = self.state_ if context is None else self.state_.extended(context)
        return self._forecast(state, int(horizon), levels)

    def seasonal_profile_at(self, timestamps: pd.DatetimeIndex) -> np.ndarray:
        """The learned seasonal profile (daily, plus weekly where known) at ``timestamps``.

        It is what the forecaster learned of the business-hour and weekday rhythm; the calendar
        effects (month-end, weekends inside the month-end rush) come on top of it.

        Raises
        ------
        InputError
            ``timestamps`` is not a tz-aware DatetimeIndex.
        """
        check_is_fitted(self)
        if not isinstance(timestamps, pd.DatetimeIndex) or timestamps.tz is None:
            raise InputError(f"timestamps must be a tz-aware DatetimeIndex, got {timestamps!r}")
        steps = timestamps.asi8 // (self.step_seconds_ * NS)
        return profile_at(steps, self.daily_profile_, self.weekly_profile_)

    def update(self, y_new: pd.Series) -> SeasonalForecaster:
        """Append observations after the training data; later forecasts start after them.

        The profile and coefficients are kept (the scheduled retrain refreshes them); only the
        recent state the forecasts condition on moves forward.
        """
        check_is_fitted(self)
        self.state_ = self.state_.extended(y_new)
        return self

    def _forecast(self, state: GridState, horizon: int, levels: Sequence[int]) -> pd.DataFrame:
        seasons: Seasons = self.seasons_
        n_direct = min(horizon, self.coef_.shape[0])
        target_steps = state.end_step + np.arange(1, horizon + 1)
        base = profile_at(target_steps, self.daily_profile_, self.weekly_profile_)
        ds = pd.DatetimeIndex(
            (target_steps * (self.step_seconds_ * NS)).astype("datetime64[ns]")
        ).tz_localize("UTC")
        cal = (
            calendar_terms(
                calendar_matrix(ds, self.tz),
                base,
                profile_at(target_steps, self.daily_profile_, _NONE),
            )
            if self.calendar
            else None
        )
        steps = np.arange(state.end_step - state.values.size + 1, state.end_step + 1)
        r = state.values - profile_at(steps, self.daily_profile_, self.weekly_profile_)
        mean = np.empty(horizon)
        x = forecast_design(r, n_direct, seasons, None if cal is None else cal[:n_direct])
        mean[:n_direct] = np.einsum("ij,ij->i", x, self.coef_[:n_direct])
        if horizon > n_direct:
            rest = np.arange(n_direct, horizon)
            day_level = x[0, 4]  # the daily mean of the remainder (4th state feature)
            long_x = np.column_stack(
                [np.ones(rest.size), np.full(rest.size, day_level)]
                + ([cal[rest]] if cal is not None else [])
            )
            mean[n_direct:] = long_x @ self.long_coef_
        mean += base
        window = self.noise_window_
        noise_now = float(noise_level(r[-window - 1 :], window, self.noise_floor_)[-1])
        floor = 0.0 if self.nonnegative_ else -np.inf
        columns: dict[str, object] = {
            "unique_id": np.full(horizon, self.series_id_, dtype=object),
            "ds": ds,
            "mean": np.maximum(mean, floor),
        }
        # Models fitted before the finite-sample correction have no error mass: no correction.
        mass = getattr(self, "error_mass_", None)
        for level in levels:
            lo, hi = interval_offsets(
                self.error_quantiles_[:n_direct],
                float(level),
                None if mass is None else mass[:n_direct],
            )
            # A central interval holds the point forecast even when the errors it was
            # calibrated on were one-sided (a regime the held-out block alone had).
            lo, hi = np.minimum(lo, 0.0) * noise_now, np.maximum(hi, 0.0) * noise_now
            if horizon > n_direct:
                long_mass = getattr(self, "long_error_mass_", None)
                long_lo, long_hi = interval_offsets(
                    self.long_error_quantiles_[None, :],
                    level,
                    None if long_mass is None else np.array([long_mass]),
                )
                lo = np.concatenate([lo, np.repeat(long_lo, horizon - n_direct)])
                hi = np.concatenate([hi, np.repeat(long_hi, horizon - n_direct)])
            columns[f"lo-{level}"] = np.maximum(mean + lo, floor)
            columns[f"hi-{level}"] = np.maximum(mean + hi, floor)
        return pd.DataFrame(columns)

    # -------------------------------------------------------------- helpers
    def _check_params(self) -> None:
        if self.profile_days < 1:
            raise InputError(f"profile_days must be >= 1, got {self.profile_days}")
        if not 1 <= self.direct_horizon <= MAX_HORIZON:
            raise InputError(
                f"direct_horizon must be in [1, {MAX_HORIZON}], got {self.direct_horizon}"
            )
        if self.penalty < 0:
            raise InputError(f"penalty must be >= 0, got {self.penalty}")
        if self.calibration_folds < 1:
            raise InputError(f"calibration_folds must be >= 1, got {self.calibration_folds}")
        if not 1 <= self.recent_folds <= self.calibration_folds:
            raise InputError(
                f"recent_folds must be in [1, calibration_folds={self.calibration_folds}], "
                f"got {self.recent_folds}"
            )
        if not 0 <= self.recency_days <= 365:
            raise InputError(f"recency_days must be in [0, 365], got {self.recency_days}")
        for level in self.levels:
            if not 0 < level < 100:
                raise InputError(f"levels must be in (0, 100), got {level}")
        for length in self.season_lengths or ():
            if length < 2:
                raise InputError(f"season lengths must be >= 2 steps, got {length}")

    def _seasons(self, step: int, n: int) -> Seasons:
        if self.season_lengths is not None:
            lengths = list(self.season_lengths)
        else:
            daily = round(DAY_SECONDS / step) if step < DAY_SECONDS / 2 else 0
            lengths = [daily, 7 * daily] if daily else []
        # A daily profile from a day and a half beats none; a weekly one needs two weeks.
        daily = lengths[0] if lengths and 2 * n >= 3 * lengths[0] else 0
        weekly = lengths[1] if daily and len(lengths) > 1 and n >= 2 * lengths[1] else 0
        return Seasons(daily=daily, weekly=weekly)

    def _direct_steps(self, seasons: Seasons, n: int) -> int:
        cap = seasons.daily if seasons.daily else self.direct_horizon
        available = n - seasons.memory - 8
        if available < 1:
            raise InputError(f"y is too short to fit: {n} steps")
        return max(1, min(self.direct_horizon, cap, available))
