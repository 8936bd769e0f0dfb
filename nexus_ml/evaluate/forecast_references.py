"""The forecasters that forecast protocol v1 compares: ours and the two references.

Each is a :class:`BacktestModel`: a name and a function ``(train, horizon, level) -> Forecast``,
so the protocol does not care how a model is built. ``statsforecast`` is a bench dependency and
is imported only when its model runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nexus_ml.errors import InputError, ModelError


@dataclass(frozen=True)
class Forecast:
    """Point forecast and one central prediction interval, as arrays of length ``horizon``."""

    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


ForecastFn = Callable[[pd.Series, int, int], Forecast]


@dataclass(frozen=True)
class BacktestModel:
    """A named forecasting method: ``fit_predict(train, horizon, level)``."""

    name: str
    fit_predict: ForecastFn


def seasonal_naive(season: int) -> ForecastFn:
    """Repeat the last season; the interval comes from in-sample seasonal-naive errors."""

    def fit_predict(train: pd.Series, horizon: int, level: int) -> Forecast:
        y = train.to_numpy(dtype=float)
        if y.size <= season:
            raise ModelError(f"seasonal naive needs more than {season} points, got {y.size}")
        reps = int(np.ceil(horizon / season))
        mean = np.tile(y[-season:], reps)[:horizon]
        errors = y[season:] - y[:-season]
        errors = errors[np.isfinite(errors)]
        alpha = (100 - level) / 200
        lo_q, hi_q = np.quantile(errors, [alpha, 1 - alpha]) if errors.size else (0.0, 0.0)
        return Forecast(mean=mean, lo=mean + lo_q, hi=mean + hi_q)

    return fit_predict


def statsforecast_mstl(season: int) -> ForecastFn:
    """statsforecast ``MSTL(season_length=[season], trend_forecaster=AutoETS(model="ZZN"))``."""

    def fit_predict(train: pd.Series, horizon: int, level: int) -> Forecast:
        try:
            from statsforecast.models import MSTL, AutoETS
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ModelError(
                "statsforecast is not installed (pip install 'nexus-ml[bench]')"
            ) from exc
        model = MSTL(season_length=[season], trend_forecaster=AutoETS(model="ZZN"))
        y = train.to_numpy(dtype=float)
        model.fit(y=y)
        out = model.predict(h=horizon, level=[level])
        return Forecast(
            mean=np.asarray(out["mean"], dtype=float),
            lo=np.asarray(out[f"lo-{level}"], dtype=float),
            hi=np.asarray(out[f"hi-{level}"], dtype=float),
        )

    return fit_predict


def nexus_forecaster(season: int) -> ForecastFn:
    """Our :class:`~nexus_ml.models.forecast.seasonal.SeasonalForecaster` with default settings."""
    from nexus_ml.models.forecast.seasonal import SeasonalForecaster

    def fit_predict(train: pd.Series, horizon: int, level: int) -> Forecast:
        # The forecaster derives its seasons from the step; ``season`` is implied by it.
        model = SeasonalForecaster(levels=(level,)).fit(train)
        frame = model.predict(horizon, levels=(level,))
        return Forecast(
            mean=frame["mean"].to_numpy(),
            lo=frame[f"lo-{level}"].to_numpy(),
            hi=frame[f"hi-{level}"].to_numpy(),
        )

    return fit_predict


MODEL_FACTORIES: dict[str, Callable[[int], ForecastFn]] = {
    "nexus": nexus_forecaster,
    "seasonal_naive": seasonal_naive,
    "statsforecast_mstl": statsforecast_mstl,
}


def make_models(names: list[str] | tuple[str, ...], season: int) -> list[BacktestModel]:
    """Build the named models; an unknown name raises :class:`InputError` quoting it."""
    unknown = [n for n in names if n not in MODEL_FACTORIES]
    if unknown:
        known = ", ".join(MODEL_FACTORIES)
        raise InputError(f"unknown model {unknown[0]!r} (known: {known})", value=unknown[0])
    return [BacktestModel(name, MODEL_FACTORIES[name](season)) for name in names]
