"""The training pipeline: history → per-series fits → backtest → promotion gate → registry.

1. Fetch ``days`` of history for the modules through a :class:`MetricSource`; refuse data whose
   coverage is below ``min_coverage``.
2. Skip modules whose data window was already trained on (same fingerprint): retraining is
   idempotent.
3. Fan out one task per (module, field) forecaster and one per module detector
   (:func:`nexus_ml.models.training.fanout.fit_modules`), each backtested on the last day(s).
4. Score the current champion on the same window and apply the gate
   (:func:`nexus_ml.models.training.promotion.judge`).
5. Publish every module as a new version: ``champion`` when promoted, else ``challenger``, with
   the reason as a tag and in one log line.
"""

from __future__ import annotations

import functools
import hashlib
import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from nexus_ml.catalog import Catalog
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import DataQualityError, InputError
from nexus_ml.ingest.source import MetricSource
from nexus_ml.logs import get_logger
from nexus_ml.models.registry.store import RegistryStore, TrainedModule
from nexus_ml.models.training.backtest import SeriesScore, score_forecaster
from nexus_ml.models.training.fanout import (
    BacktestConfig,
    ModelFactory,
    ModuleFit,
    fit_modules,
    module_frame,
)
from nexus_ml.models.training.promotion import GateConfig, Verdict, judge

log = get_logger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how it is judged."""

    modules: tuple[str, ...]
    days: float = 28.0
    step: timedelta = timedelta(minutes=1)
    min_coverage: float = 0.9
    forecast_fields: tuple[str, ...] = METRIC_FIELDS
    backtest: BacktestConfig = field(default_factory=BacktestConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    n_jobs: int = -1
    backend: str | None = None  # joblib backend; None: loky, or an enclosing parallel_config
    forecaster_params: dict[str, Any] = field(default_factory=dict)
    detector_params: dict[str, Any] = field(default_factory=dict)
    # start-up lead time of each module in steps (see lead_times_of); 1 when not given
    lead_times: dict[str, int] = field(default_factory=dict)
    detect: bool = True  # False: no anomaly detector (a series of demand alone has no health)

    def __post_init__(self) -> None:
        if not self.modules:
            raise InputError("no modules to train")
        if not 0 <= self.min_coverage <= 1:
            raise InputError(f"min_coverage must be in [0, 1], got {self.min_coverage}")
        if self.days <= self.backtest.days:
            raise InputError(
                f"history of {self.days:g} days leaves nothing to fit before a "
                f"{self.backtest.days:g}-day backtest"
            )


@dataclass(frozen=True)
class ModuleOutcome:
    """What happened to one module: ``promoted``, ``challenger`` or ``unchanged``."""

    module: str
    status: str
    version: str
    reason: str
    mase: float = math.nan
    champion_mase: float | None = None
    coverage: float = math.nan


@dataclass(frozen=True)
class TrainReport:
    start: datetime
    end: datetime
    outcomes: tuple[ModuleOutcome, ...]
    seconds: float


def default_factories(config: TrainConfig) -> tuple[ModelFactory, ModelFactory]:
    """The production models with the configured hyper-parameters (picklable partials)."""
    from nexus_ml.models.anomaly.detector import AnomalyDetector
    from nexus_ml.models.forecast.seasonal import SeasonalForecaster

    return (
        functools.partial(SeasonalForecaster, **config.forecaster_params),
        functools.partial(AnomalyDetector, **config.detector_params),
    )


def train(
    source: MetricSource,
    store: RegistryStore,
    config: TrainConfig,
    *,
    end: datetime,
    forecaster_factory: ModelFactory | None = None,
    detector_factory: ModelFactory | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> TrainReport:
    """Train, judge and publish every module of ``config`` on the window ending at ``end``.

    Raises
    ------
    DataQualityError
        When a module's coverage over the window is below ``config.min_coverage``.
    """
    began = time.perf_counter()
    phase = on_phase or (lambda _: None)
    end_ts = (
        pd.Timestamp(end).tz_convert("UTC")
        if pd.Timestamp(end).tzinfo
        else pd.Timestamp(end, tz="UTC")
    )
    end_ts = end_ts.floor(pd.Timedelta(config.step))
    start_ts = end_ts - pd.Timedelta(days=config.days)
    phase(f"fetching {config.days:g} days for {len(config.modules)} module(s)")
    # Sources return the closed range [start, end]; the window is [start, end).
    last = end_ts - pd.Timedelta(config.step)
    fetched = source.fetch(
        config.modules, start_ts.to_pydatetime(), last.to_pydatetime(), config.step
    )
    _check_coverage(fetched.quality.coverage, config)
    if forecaster_factory is None or detector_factory is None:  # after the cheap checks
        default_fc, default_det = default_factories(config)
        forecaster_factory = forecaster_factory or default_fc
        detector_factory = detector_factory or default_det
    if not config.detect:
        detector_factory = None

    frames = {
        m: module_frame(fetched.frame, m, METRIC_FIELDS, start_ts, end_ts, config.step)
        for m in config.modules
    }
    model_key = (
        f"{forecaster_factory!r}|{detector_factory!r}|{config.backtest}|{config.forecast_fields}"
        f"|{sorted(config.lead_times.items())}"
    )
    fingerprints = {m: fingerprint(frames[m], m, model_key) for m in config.modules}
    outcomes: list[ModuleOutcome] = []
    todo: dict[str, pd.DataFrame] = {}
    for module in config.modules:
        existing = store.find_version(module, fingerprints[module])
        if existing is None:
            todo[module] = frames[module]
            continue
        outcome = ModuleOutcome(
            module, "unchanged", existing, "already trained on this data window"
        )
        _log_outcome(outcome)
        outcomes.append(outcome)

    if todo:
        phase(f"fitting {len(todo)} module(s) × {len(config.forecast_fields)} field(s)")
        fits = fit_modules(
            todo,
            forecast_fields=config.forecast_fields,
            forecaster_factory=forecaster_factory,
            detector_factory=detector_factory,
            backtest=config.backtest,
            step=config.step,
            n_jobs=config.n_jobs,
            backend=config.backend,
            lead_times=config.lead_times,
        )
        phase("judging and publishing")
        with tempfile.TemporaryDirectory(prefix="nexus-train-") as tmp:
            for module, fit in fits.items():
                outcome = _judge_and_publish(
                    fit,
                    todo[module],
                    store,
                    config,
                    fingerprints[module],
                    Path(tmp),
                    window=(start_ts, end_ts),
                    model_key=model_key,
                )
                _log_outcome(outcome)
                outcomes.append(outcome)
    order = {m: i for i, m in enumerate(config.modules)}
    outcomes.sort(key=lambda o: order[o.module])
    return TrainReport(
        start=start_ts.to_pydatetime(),
        end=end_ts.to_pydatetime(),
        outcomes=tuple(outcomes),
        seconds=time.perf_counter() - began,
    )


def lead_times_of(catalog: Catalog, step: timedelta = timedelta(minutes=1)) -> dict[str, int]:
    """Each module's start-up lead time in steps of ``step`` (a started replica serves after)."""
    return {
        m.name: max(1, math.ceil(m.startup_lead_time_s / step.total_seconds())) for m in catalog
    }


def fingerprint(wide: pd.DataFrame, module: str, model_key: str) -> str:
    """A hash of the module's data window and the model configuration."""
    digest = hashlib.sha256()
    digest.update(f"{module}|{wide.index[0]}|{wide.index[-1]}|{len(wide)}|{model_key}".encode())
    digest.update(pd.util.hash_pandas_object(wide, index=True).to_numpy().tobytes())
    return digest.hexdigest()


def _check_coverage(coverage: dict[str, dict[str, float]], config: TrainConfig) -> None:
    # the detector reads every field; without it only the forecast fields are trained on
    used = set(METRIC_FIELDS) if config.detect else set(config.forecast_fields)
    low = []
    for module in config.modules:
        per_field = {f: v for f, v in coverage.get(module, {}).items() if f in used}
        worst = min(per_field.values()) if per_field else 0.0
        if worst < config.min_coverage:
            low.append(f"{module} {worst:.1%}")
    if low:
        raise DataQualityError(
            f"coverage below {config.min_coverage:.0%}: {', '.join(low)}; refusing to train",
            modules=low,
        )


def _score_champion(
    store: RegistryStore, fit: ModuleFit, wide: pd.DataFrame
) -> tuple[dict[str, SeriesScore] | None, list[str]]:
    """The champion's scores on the challenger's window, and why fields could not be scored."""
    champion = store.load_champion(fit.module)
    if champion is None:
        return None, []
    scores: dict[str, SeriesScore] = {}
    problems: list[str] = []
    for name, window in fit.window.items():
        # The as-fitted copy has not seen the backtest days of its own training window.
        model = champion.scoring_forecasters.get(name) or champion.forecasters.get(name)
        if model is None:
            continue
        y = wide[name].rename(f"{fit.module}:{name}")
        try:
            scores[name] = score_forecaster(model, y, window)
        except Exception as exc:  # an old or broken champion is judged, not crashed on
            problems.append(f"{name}: {exc}")
            log.warning(
                "train.champion_cannot_forecast",
                module=fit.module,
                version=champion.version,
                series=name,
                error=str(exc),
            )
    return scores, problems


def _judge_and_publish(
    fit: ModuleFit,
    wide: pd.DataFrame,
    store: RegistryStore,
    config: TrainConfig,
    fp: str,
    tmp: Path,
    *,
    window: tuple[pd.Timestamp, pd.Timestamp],
    model_key: str,
) -> ModuleOutcome:
    from pipelines.plots import plot_module

    champion_scores, problems = _score_champion(store, fit, wide)
    verdict = judge(
        fit.scores,
        champion_scores,
        config.gate,
        detector_ok=fit.detector_ok,
        champion_problems=problems,
    )
    plot = plot_module(fit, wide, tmp, level=config.backtest.level)
    trained = TrainedModule(
        module=fit.module,
        forecasters=fit.forecasters,
        detector=fit.detector,
        fingerprint=fp,
        promoted=verdict.promoted,
        reason=verdict.reason,
        params=_params(config, window, len(wide), model_key),
        metrics=_metrics(fit, champion_scores, verdict),
        plots=(plot,),
        scoring_forecasters=fit.scoring_forecasters,
        scaler=fit.scaler,
    )
    version = store.publish(trained)
    return ModuleOutcome(
        module=fit.module,
        status="promoted" if verdict.promoted else "challenger",
        version=version,
        reason=verdict.reason,
        mase=verdict.challenger_mase,
        champion_mase=verdict.champion_mase,
        coverage=verdict.challenger_coverage,
    )


def _params(
    config: TrainConfig, window: tuple[pd.Timestamp, pd.Timestamp], points: int, model_key: str
) -> dict[str, Any]:
    return {
        "window_start": window[0].isoformat(),
        "window_end": window[1].isoformat(),
        "days": config.days,
        "step_s": config.step.total_seconds(),
        "points": points,
        "forecast_fields": ",".join(config.forecast_fields),
        "backtest_days": config.backtest.days,
        "backtest_origin_every_s": config.backtest.origin_every.total_seconds(),
        "backtest_horizon_s": config.backtest.horizon.total_seconds(),
        "gate_margin": config.gate.margin,
        "gate_coverage_bounds": f"{config.gate.coverage_bounds}",
        "min_coverage": config.min_coverage,
        "models": model_key,
    }


def _metrics(
    fit: ModuleFit, champion: dict[str, SeriesScore] | None, verdict: Verdict
) -> dict[str, float]:
    metrics = {"mase": verdict.challenger_mase, "coverage": verdict.challenger_coverage}
    if verdict.champion_mase is not None:
        metrics["champion_mase"] = verdict.champion_mase
    for name, score in fit.scores.items():
        metrics[f"mase.{name}"] = score.mase
        metrics[f"coverage.{name}"] = score.coverage
        metrics[f"width.{name}"] = score.width
    for name, score in (champion or {}).items():
        metrics[f"champion_mase.{name}"] = score.mase
    if fit.anomaly_scores is not None and "combined" in fit.anomaly_scores:
        metrics["anomaly_combined_mean"] = float(fit.anomaly_scores["combined"].mean())
    return metrics


def _log_outcome(o: ModuleOutcome) -> None:
    champ = None if o.champion_mase is None else round(o.champion_mase, 4)
    log.info(
        "train.outcome",
        module=o.module,
        status=o.status,
        version=o.version,
        mase=round(o.mase, 4),
        champion_mase=champ,
        reason=o.reason,
    )


def modules_or_all(requested: Sequence[str], known: Sequence[str]) -> tuple[str, ...]:
    """The requested modules (full or short names) or every known module when none is given.

    Raises
    ------
    InputError
        Naming the first unknown module.
    """
    if not requested:
        return tuple(known)
    out = []
    for name in requested:
        full = name if name in known else f"nexus-{name}"
        if full not in known:
            raise InputError(f"unknown module {name!r}; known: {', '.join(known)}")
        out.append(full)
    return tuple(out)
