"""Fan-out training: one task per (module, metric) forecaster, one detector and one scaling risk
model per module.

Every task fits on the history before the backtest window, scores itself on the window, then
folds the window in with ``update`` so the stored model knows the latest data without a
second full fit. Tasks run through :class:`joblib.Parallel`; the backend is whatever
``joblib.parallel_config`` says (``loky`` processes by default, ``dask`` on a cluster), so the
same code scales out without a scheduler of our own.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, parallel_config

from nexus_ml.errors import ConfigError, InputError
from nexus_ml.logs import get_logger
from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk
from nexus_ml.models.training.backtest import (
    BacktestWindow,
    SeriesScore,
    make_window,
    score_forecaster,
)

log = get_logger(__name__)

#: Builds an unfitted model; must be picklable (a class or ``functools.partial``).
ModelFactory = Callable[[], Any]

#: Forecasts the decision service cannot work without.
REQUIRED_FORECASTS: tuple[str, ...] = ("requests_per_min",)


@dataclass(frozen=True)
class BacktestConfig:
    """The backtest window: origins every ``origin_every`` over the last ``days``."""

    days: float = 1.0
    origin_every: timedelta = timedelta(hours=6)
    horizon: timedelta = timedelta(hours=1)
    level: int = 80

    def steps(self, step: timedelta) -> tuple[int, int, int]:
        """(backtest steps, steps between origins, horizon steps) at sampling ``step``."""
        return (
            _to_steps(timedelta(days=self.days), step),
            _to_steps(self.origin_every, step),
            _to_steps(self.horizon, step),
        )


def _to_steps(span: timedelta, step: timedelta) -> int:
    return max(1, round(span / step))


@dataclass
class ModuleFit:
    """What the fan-out produced for one module."""

    module: str
    window: dict[str, BacktestWindow]
    forecasters: dict[str, Any] = field(default_factory=dict)
    scoring_forecasters: dict[str, Any] = field(default_factory=dict)  # before the update
    scores: dict[str, SeriesScore] = field(default_factory=dict)
    detector: Any = None
    detector_ok: bool = True  # no detector (none asked for) is not a failed one
    anomaly_scores: pd.DataFrame | None = None  # detector scores over the backtest window
    scaler: Any = None  # the scaling strategy's risk model (LeadTimeRisk)


def module_frame(
    frame: pd.DataFrame,
    module: str,
    fields: Sequence[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    step: timedelta,
) -> pd.DataFrame:
    """One module's fields on a regular ``step`` grid over [start, end); short gaps interpolated.

    Raises
    ------
    InputError
        When the module has no rows at all.
    """
    rows = frame.loc[frame["module"] == module]
    if rows.empty:
        raise InputError(f"no metrics for module {module!r} in the fetched window", module=module)
    wide = rows.set_index("timestamp")[list(fields)].astype(float)
    wide = wide[~wide.index.duplicated(keep="last")].sort_index()
    grid = pd.date_range(start, end, freq=pd.Timedelta(step), inclusive="left", tz="UTC")
    wide = wide.reindex(grid)
    # The caller already refused data below the coverage threshold, so what is left are short
    # scrape gaps: bridging them linearly beats teaching the models that load drops to NaN.
    wide = wide.interpolate(method="time", limit_direction="both").fillna(0.0)
    wide.index.name = "timestamp"
    return wide


def fit_modules(
    frames: Mapping[str, pd.DataFrame],
    *,
    forecast_fields: Sequence[str],
    forecaster_factory: ModelFactory,
    detector_factory: ModelFactory | None,
    backtest: BacktestConfig,
    step: timedelta,
    n_jobs: int = -1,
    backend: str | None = None,
    lead_times: Mapping[str, int] | None = None,
) -> dict[str, ModuleFit]:
    """Fit every (module, field) forecaster, every module's detector and scaling risk model
    in parallel.

    Parameters
    ----------
    frames
        Per module, a wide frame from :func:`module_frame` (all METRIC_FIELDS as columns).
    lead_times
        Per module, the start-up lead time in steps the risk model covers (default 1).
    backend
        A joblib backend name (``"loky"``, ``"threading"``, ``"dask"``); None keeps the one set
        by an enclosing ``joblib.parallel_config``.

    Raises
    ------
    ConfigError
        When ``forecast_fields`` lacks a field the decision service needs.
    """
    missing = [f for f in REQUIRED_FORECASTS if f not in forecast_fields]
    if missing:
        raise ConfigError(
            f"forecast fields must include {', '.join(missing)}, got {list(forecast_fields)}",
            field="forecast_fields",
        )
    bt_steps, every, horizon = backtest.steps(step)
    season = max(2, round(timedelta(days=1) / step))
    fits: dict[str, ModuleFit] = {}
    jobs = []
    for module, wide in frames.items():
        windows = {}
        for name in forecast_fields:
            # Each task gets its own index object: pandas builds index lookup tables lazily and
            # not thread-safely, and threaded backends (Dask in-process workers) share memory.
            y = pd.Series(wide[name].to_numpy(), index=wide.index.copy(), name=f"{module}:{name}")
            windows[name] = make_window(
                y,
                backtest_steps=bt_steps,
                origin_every=every,
                horizon=horizon,
                season=season,
                level=backtest.level,
            )
            jobs.append(
                delayed(_fit_forecaster)(module, name, forecaster_factory, y, windows[name])
            )
        cut = next(iter(windows.values())).origins[0]
        if detector_factory is not None:
            jobs.append(delayed(_fit_detector)(module, detector_factory, wide.copy(deep=True), cut))
        if step == timedelta(minutes=1):  # the strategy folds in minutes
            lead = (lead_times or {}).get(module, 1)
            demand = pd.Series(wide["requests_per_min"].to_numpy(), index=wide.index.copy())
            jobs.append(delayed(_fit_scaler)(module, demand, lead, season))
        fits[module] = ModuleFit(module=module, window=windows)
    parallel_kw: dict[str, Any] = {"n_jobs": n_jobs}
    if backend is not None:
        parallel_kw["backend"] = backend
    log.info("training.fanout", tasks=len(jobs), modules=len(frames))
    with parallel_config(**parallel_kw):
        results = Parallel()(jobs)
    for result in results:
        fit = fits[result[0]]
        if result[1] == _SCALER:
            fit.scaler = result[2]
        elif result[1] is None:
            _, _, fit.detector, fit.detector_ok, fit.anomaly_scores = result
        else:
            _, name, fit.forecasters[name], fit.scores[name], fit.scoring_forecasters[name] = result
    return fits


def _fit_forecaster(
    module: str, name: str, factory: ModelFactory, y: pd.Series, window: BacktestWindow
) -> tuple[str, str, Any, SeriesScore, Any]:
    cut = window.origins[0]
    model = factory().fit(y.loc[y.index < cut])
    score = score_forecaster(model, y, window)
    as_fitted = copy.deepcopy(model)
    model.update(y.loc[y.index >= cut])
    return module, name, model, score, as_fitted


_SCALER = "<scaler>"


def _fit_scaler(module: str, demand: pd.Series, lead: int, season: int) -> tuple[str, str, Any]:
    # Online and causal: it learns from the whole history, backtest window included.
    return module, _SCALER, LeadTimeRisk(lead_time=lead, season=season).fit(demand)


def _fit_detector(
    module: str, factory: ModelFactory, wide: pd.DataFrame, cut: pd.Timestamp
) -> tuple[str, None, Any, bool, pd.DataFrame]:
    train, holdout = wide.loc[wide.index < cut], wide.loc[wide.index >= cut]
    model = factory().fit(train)
    scores = model.score(holdout)
    values = scores.to_numpy(dtype=float)
    ok = bool(np.isfinite(values).all() and (values >= 0).all() and (values <= 1).all())
    model.update(holdout)
    return module, None, model, ok, scores
