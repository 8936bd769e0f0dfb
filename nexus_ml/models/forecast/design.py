"""The numeric core of the seasonal forecaster, on plain arrays of a regular grid.

The model, in three layers:

1. **Seasonal profile**: the robust (median) value of each phase of the day over the last
   ``profile_days`` days (a week by default: recent enough to follow level changes), smoothed
   over neighbouring phases; plus, with three weeks or more of history, a weekly correction
   (median over weeks of what the daily profile misses).
2. **Remainder** ``r = y - profile``: level shifts, bursts and day-to-day variation.
3. **Direct regression per horizon step** ``h``: ``r[t+h]`` from the recent remainder (last value,
   short, hourly and daily means), the remainder one day (and one week) before the target — which
   lets the fit blend toward the seasonal naive where that works — and the calendar at the target
   (business hours, weekend, month-end in São Paulo). Ridge-regularised, so an uninformative
   feature costs little. With two weeks of history the remainder one week before joins in.

Coefficients come from a Huber-reweighted fit, so bursts do not drag them.

Intervals are conformal in spirit: empirical quantiles of cross-fitted errors per horizon step
(each block of the window is forecast by a model, profile included, fitted without that block),
so an 80 % interval covers about 80 % of what the model has not seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nexus_ml.features.calendar import calendar_features

QUANTILE_GRID = np.linspace(0.0, 1.0, 401)  # stored error quantiles, every 0.25 %


@dataclass(frozen=True)
class Seasons:
    """Seasonal periods in steps: ``daily`` (0 = none) and ``weekly`` (0 = none)."""

    daily: int
    weekly: int

    @property
    def memory(self) -> int:
        """Steps of history the features look back over."""
        return max(self.weekly, self.daily, 1) + 1


def rolling_circular_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average on a circle (the phases of a season wrap around)."""
    if window <= 1 or values.size < window:
        return values
    half = window // 2
    padded = np.concatenate([values[-half:], values, values[: window - 1 - half]])
    kernel = np.ones(window) / window
    return np.convolve(padded, kernel, mode="valid")


def seasonal_profile(
    values: np.ndarray, end_step: int, seasons: Seasons, profile_days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Daily profile (indexed by ``step % daily``) and weekly correction (``step % weekly``).

    ``values`` ends at absolute step ``end_step`` (steps since the epoch); NaNs are ignored.
    """
    if not seasons.daily:
        return np.zeros(1), np.zeros(1)
    p = seasons.daily
    take = min(values.size, profile_days * p)
    recent = values[-take:]
    steps = np.arange(end_step - take + 1, end_step + 1)
    daily = _phase_median(recent, steps % p, p)
    daily = rolling_circular_mean(daily, max(1, p // 96))  # smooth over ~15 minutes
    weekly = np.zeros(1)
    # A weekly profile from two weeks would absorb half the noise: ask for three.
    if seasons.weekly and values.size >= 3 * seasons.weekly:
        w = seasons.weekly
        weeks_take = (values.size // w) * w
        tail = values[-weeks_take:]
        wsteps = np.arange(end_step - weeks_take + 1, end_step + 1)
        missed = tail - daily[wsteps % p]
        weekly = _phase_median(missed, wsteps % w, w)
        weekly = rolling_circular_mean(weekly, max(1, p // 24))  # smooth over ~1 hour
    return daily, weekly


def _phase_median(values: np.ndarray, phases: np.ndarray, period: int) -> np.ndarray:
    order = np.argsort(phases, kind="stable")
    grid = np.full((period, int(np.ceil(values.size / period)) + 1), np.nan)
    sorted_phases = phases[order]
    counts = np.bincount(sorted_phases, minlength=period)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    col = np.arange(values.size) - starts[sorted_phases]
    grid[sorted_phases, col] = values[order]
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            profile = np.nanmedian(grid, axis=1)
    fill = np.nanmedian(values) if np.isfinite(values).any() else 0.0
    return np.where(np.isfinite(profile), profile, fill)


def profile_at(steps: np.ndarray, daily: np.ndarray, weekly: np.ndarray) -> np.ndarray:
    """The seasonal profile at absolute steps."""
    return np.asarray(daily[steps % daily.size] + weekly[steps % weekly.size])


def trailing_means(r: np.ndarray, window: int) -> np.ndarray:
    """Mean of ``r[t-window+1 .. t]`` at each ``t`` (shorter at the start)."""
    csum = np.concatenate([[0.0], np.cumsum(r)])
    idx = np.arange(r.size)
    lo = np.maximum(idx - window + 1, 0)
    return np.asarray((csum[idx + 1] - csum[lo]) / (idx + 1 - lo))


def volatility(r: np.ndarray, window: int) -> np.ndarray:
    """Trailing root-mean-square of the step changes of ``r`` over ``window`` steps: the local
    noise level intervals are scaled by (bursty series are not equally predictable all day)."""
    d = np.diff(r, prepend=r[0]) if r.size else r
    return np.asarray(np.sqrt(trailing_means(d * d, window)))


def state_features(r: np.ndarray, seasons: Seasons) -> np.ndarray:
    """Origin-state features at each position ``t`` (the last observation): shape (n, 4)."""
    p = max(seasons.daily, 24)
    return np.column_stack(
        [
            r,
            trailing_means(r, max(2, p // 96)),
            trailing_means(r, max(3, p // 24)),
            trailing_means(r, p),
        ]
    )


def calendar_matrix(timestamps: pd.DatetimeIndex, tz: str) -> np.ndarray:
    """Calendar indicators at the targets (see :mod:`nexus_ml.features.calendar`)."""
    return np.asarray(calendar_features(timestamps, tz=tz).to_numpy())


def calendar_terms(cal: np.ndarray, profile: np.ndarray, daily: np.ndarray) -> np.ndarray:
    """The calendar regressors at the targets: the indicators of :func:`calendar_matrix`
    (business hours, weekend, month-end) plus products with the learned profiles.

    The products let the fit learn *relative* effects from the data: a month-end rush that adds
    25 % to the demand adds 25 % of the profile — a lot at 14:00, little at 03:00 — which an
    additive indicator cannot express. ``profile`` is the full seasonal profile at the targets
    (weekly where known); ``daily`` the daily one (a typical, mostly weekday, day): a weekend
    inside the month-end rush behaves like a fraction of a weekday, not like a weekend, and that
    fraction is learned from the month-end weekend days the history holds.
    """
    weekend, month_end = cal[:, 1], cal[:, 2]
    return np.column_stack(
        [cal, weekend * profile, month_end * profile, month_end * weekend * daily]
    )


def design(
    state: np.ndarray,
    r: np.ndarray,
    origins: np.ndarray,
    h: int,
    seasons: Seasons,
    calendar: np.ndarray | None,
) -> np.ndarray:
    """Design rows for forecasting ``r[origin + h]`` from origin positions (the last observed
    point); ``r`` must reach back one day (one week) before the earliest target."""
    columns = [np.ones(origins.size), state[origins].T]
    targets = origins + h
    if seasons.daily:
        columns.append(r[targets - seasons.daily])
    if seasons.weekly:
        columns.append(r[targets - seasons.weekly])
    if calendar is not None:
        columns.append(calendar.T)
    return np.vstack([np.atleast_2d(c) for c in columns]).T


def forecast_design(
    r: np.ndarray, steps: int, seasons: Seasons, calendar: np.ndarray | None
) -> np.ndarray:
    """Design rows of :func:`design` for the last position of ``r`` and ``h = 1 .. steps`` at
    once (the per-minute prediction path; ``steps`` must not exceed the daily season)."""
    p = max(seasons.daily, 24)
    state = state_features(r[-p - 1 :], seasons)[-1]
    h = np.arange(1, steps + 1)
    columns = [np.ones((steps, 1)), np.tile(state, (steps, 1))]
    last = r.size - 1
    if seasons.daily:
        columns.append(r[last + h - seasons.daily][:, None])
    if seasons.weekly:
        columns.append(r[last + h - seasons.weekly][:, None])
    if calendar is not None:
        columns.append(calendar)
    return np.hstack(columns)


def ridge_fit(x: np.ndarray, y: np.ndarray, penalty: float, huber_steps: int = 0) -> np.ndarray:
    """Ridge least squares with an unpenalised intercept (column 0); features are scaled so one
    penalty suits every series. ``huber_steps`` reweighting rounds give a Huber fit, so a few
    bursts do not drag the coefficients (the errors that matter are absolute ones)."""
    scale = x.std(axis=0)
    scale[0] = 1.0
    scale[scale == 0] = 1.0
    xs = x / scale
    reg = penalty * x.shape[0] * np.eye(x.shape[1]) * 1e-3
    reg[0, 0] = 0.0
    weights = np.ones(y.size)
    for step in range(huber_steps + 1):
        xw = xs * weights[:, None]
        coef = np.linalg.solve(xw.T @ xs + reg, xw.T @ y)
        if step == huber_steps:
            break
        residual = np.abs(y - xs @ coef)
        cutoff = 1.345 * 1.4826 * max(float(np.median(residual)), 1e-12)
        weights = np.minimum(1.0, cutoff / np.maximum(residual, 1e-12))
    return np.asarray(coef / scale)


def error_quantiles(errors: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Quantiles of the errors on :data:`QUANTILE_GRID` (zeros when there are none).

    With ``weights`` (one per error, in (0, 1]) the quantiles are those of the weighted
    empirical distribution: each error sits at the middle of its share of the total weight.
    """
    keep = np.isfinite(errors)
    errors = errors[keep]
    if errors.size == 0:
        return np.zeros(QUANTILE_GRID.size)
    if weights is None:
        # np.quantile's linear method, sorting once for the whole grid
        errors = np.sort(errors)
        return np.asarray(
            np.interp(QUANTILE_GRID * (errors.size - 1), np.arange(errors.size), errors)
        )
    order = np.argsort(errors)
    errors, w = errors[order], np.asarray(weights, dtype=float)[keep][order]
    positions = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.asarray(np.interp(QUANTILE_GRID, positions, errors))


def recency_weights(
    age_steps: np.ndarray, step_seconds: int, half_life_days: float
) -> np.ndarray | None:
    """Weights in (0, 1] that halve every ``half_life_days`` of age (None when it is 0: all
    errors weigh alike)."""
    if half_life_days <= 0:
        return None
    days = np.asarray(age_steps, dtype=float) * step_seconds / 86400.0
    return np.asarray(0.5 ** (days / half_life_days))


def error_mass(errors: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The total weight W of the finite errors (their number when unweighted)."""
    keep = np.isfinite(errors)
    return float(keep.sum() if weights is None else np.asarray(weights, dtype=float)[keep].sum())


def interval_offsets(
    quantiles: np.ndarray, level: float, mass: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper offsets of a central ``level`` % interval from per-step error quantiles
    of shape (horizon, grid).

    ``mass`` (per step) is the total weight W of the errors behind each row. A split-conformal
    interval then takes the quantile of the errors *and the new point*, whose error is unknown
    (weight 1, put at ±∞): the upper end at level q·(W + 1)/W, the lower at
    (q·(W + 1) − 1)/W (the finite-sample ⌈(n + 1)q⌉-th order statistic when unweighted; the
    non-exchangeable form of Barber et al., 2023, when weighted).
    """
    alpha = (100.0 - level) / 200.0
    rows = quantiles.shape[0]
    lo_q, hi_q = np.full(rows, alpha), np.full(rows, 1.0 - alpha)
    if mass is not None:
        w = np.maximum(np.asarray(mass, dtype=float), 1e-12)
        lo_q = (alpha * (w + 1.0) - 1.0) / w
        hi_q = (1.0 - alpha) * (w + 1.0) / w
    return _grid_column(quantiles, lo_q), _grid_column(quantiles, hi_q)


def _grid_column(quantiles: np.ndarray, q: np.ndarray) -> np.ndarray:
    # QUANTILE_GRID is uniform: linear interpolation between two neighbouring columns
    # (levels outside [0, 1] take the extreme errors).
    pos = np.clip(q, 0.0, 1.0) * (QUANTILE_GRID.size - 1)
    i = np.minimum(pos.astype(int), QUANTILE_GRID.size - 2)
    w = pos - i
    rows = np.arange(quantiles.shape[0])
    return np.asarray(quantiles[rows, i] * (1 - w) + quantiles[rows, i + 1] * w)


MAX_ROWS = 6000  # regression rows per horizon step


def thin(origins: np.ndarray) -> np.ndarray:
    """At most :data:`MAX_ROWS` evenly spread origins: ten coefficients need no more, and long
    1-minute histories would otherwise make each fit slow."""
    stride = -(-origins.size // MAX_ROWS)
    return origins[::stride] if stride > 1 else origins


def noise_level(r: np.ndarray, window: int, floor: float) -> np.ndarray:
    """The local noise level intervals scale with (ones when adaptive intervals are off)."""
    if window < 2:
        return np.ones(r.size)
    return np.asarray(np.maximum(volatility(r, window), floor))


def cal_at(cal: np.ndarray | None, positions: np.ndarray) -> np.ndarray | None:
    """The calendar rows at ``positions`` (None without a calendar)."""
    return None if cal is None else cal[positions]
