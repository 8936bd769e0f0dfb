"""Rolling-origin backtest of a fitted forecaster on the last day(s) of a series.

The promotion gate compares the challenger and the current champion on exactly the same
window: the same origins, the same horizon, the same actuals and the same error scale. Each
forecast at an origin sees only the data before it (``predict(..., context=y[:origin])``), so
no model is refitted inside the backtest and the champion needs no retraining to be scored.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nexus_ml.errors import InputError, ModelError


@dataclass(frozen=True)
class BacktestWindow:
    """Where and how far a backtest looks.

    ``origins`` are the timestamps at which forecasts start; ``horizon`` is in steps; ``scale``
    is the in-sample MAE of the seasonal naive on the data before the first origin (the MASE
    denominator, shared by every model scored on this window).
    """

    origins: tuple[pd.Timestamp, ...]
    horizon: int
    step: pd.Timedelta
    scale: float
    level: int = 80


@dataclass(frozen=True)
class SeriesScore:
    """One model on one series over one window."""

    mase: float
    coverage: float  # fraction of actuals inside the ``level`` interval
    width: float  # mean interval width / scale
    finite: bool  # every forecast value finite
    ordered: bool  # lo <= mean <= hi everywhere
    points: int
    forecasts: pd.DataFrame  # all forecasts, one row per (origin, step), for plots


def make_window(
    y: pd.Series,
    *,
    backtest_steps: int,
    origin_every: int,
    horizon: int,
    season: int,
    level: int = 80,
) -> BacktestWindow:
    """Origins every ``origin_every`` steps over the last ``backtest_steps`` of ``y``.

    Raises
    ------
    InputError
        When the series is too short to leave a training part of at least two seasons.
    """
    n = len(y)
    first = n - backtest_steps
    if first < 2 * season or backtest_steps < horizon:
        raise InputError(
            f"series {y.name!r}: {n} points are too few for a backtest of {backtest_steps} steps "
            f"after two seasons of {season} steps",
            series=str(y.name),
        )
    positions = list(range(first, n - horizon + 1, origin_every))
    step = pd.Timedelta(y.index[1] - y.index[0])
    return BacktestWindow(
        origins=tuple(pd.Timestamp(y.index[p]) for p in positions),
        horizon=horizon,
        step=step,
        scale=seasonal_naive_mae(y.iloc[:first].to_numpy(dtype=float), season),
        level=level,
    )


def seasonal_naive_mae(train: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal naive; lag-1 naive when the series is flat per season."""
    for lag in (season, 1):
        if len(train) > lag:
            diffs = np.abs(train[lag:] - train[:-lag])
            mae = float(np.nanmean(diffs)) if np.isfinite(diffs).any() else 0.0
            if mae > 0:
                return mae
    return 1.0  # a constant series: any error is an error in its own units


def score_forecaster(model: object, y: pd.Series, window: BacktestWindow) -> SeriesScore:
    """Forecast from every origin of ``window`` with ``model`` and score against ``y``."""
    lo_col, hi_col = f"lo-{window.level}", f"hi-{window.level}"
    frames: list[pd.DataFrame] = []
    for origin in window.origins:
        context = y.loc[y.index < origin]
        fc = model.predict(window.horizon, levels=(window.level,), context=context)  # type: ignore[attr-defined]
        if len(fc) and pd.Timestamp(fc["ds"].iloc[0]) != origin:
            # A model whose state already runs past the origin cannot be rewound.
            raise ModelError(
                f"{y.name}: asked to forecast from {origin}, the model forecast from "
                f"{pd.Timestamp(fc['ds'].iloc[0])}"
            )
        fc = fc.assign(origin=origin)
        frames.append(fc)
    forecasts = pd.concat(frames, ignore_index=True)
    actual = y.reindex(pd.DatetimeIndex(forecasts["ds"])).to_numpy(dtype=float)
    forecasts["actual"] = actual
    mean = forecasts["mean"].to_numpy(dtype=float)
    lo = forecasts[lo_col].to_numpy(dtype=float)
    hi = forecasts[hi_col].to_numpy(dtype=float)
    finite = bool(np.isfinite(mean).all() and np.isfinite(lo).all() and np.isfinite(hi).all())
    ordered = bool(np.all(lo <= mean + 1e-9) and np.all(mean <= hi + 1e-9))
    seen = np.isfinite(actual)
    if not seen.any() or not finite:
        return SeriesScore(math.inf, 0.0, math.inf, finite, ordered, 0, forecasts)
    err = np.abs(actual[seen] - mean[seen])
    inside = (actual[seen] >= lo[seen]) & (actual[seen] <= hi[seen])
    return SeriesScore(
        mase=float(err.mean() / window.scale),
        coverage=float(inside.mean()),
        width=float((hi[seen] - lo[seen]).mean() / window.scale),
        finite=finite,
        ordered=ordered,
        points=int(seen.sum()),
        forecasts=forecasts,
    )


def pooled(scores: Sequence[SeriesScore]) -> tuple[float, float]:
    """Mean MASE and point-weighted coverage over several series (one module)."""
    if not scores:
        return math.inf, 0.0
    mase = float(np.mean([s.mase for s in scores]))
    points = sum(s.points for s in scores)
    coverage = sum(s.coverage * s.points for s in scores) / points if points else 0.0
    return mase, coverage
