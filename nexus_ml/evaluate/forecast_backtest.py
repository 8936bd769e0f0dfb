"""Forecast protocol v1 (../shared/BENCHMARKS.md): rolling-origin accuracy of demand forecasts.

- 5-minute means, forward-filled; daily season 288 steps.
- Origins every 6 hours over the last 3 days; each model is fitted on everything before the
  origin (at most the last 14 days) and forecasts ``h = 12`` steps.
- MASE over all origins and steps, each error scaled by the in-sample MAE of the daily seasonal
  naive on that origin's training window; 80 % interval coverage; mean width / scale; total
  fit + predict seconds.
- Aggregate over traces: geometric mean of each model's MASE relative to the seasonal naive.

The bench (``bench/bench_forecast.py``) and the CLI (``nexus-ml forecast backtest``) both run
:func:`run_backtest`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nexus_ml.errors import InputError
from nexus_ml.evaluate.forecast_references import BacktestModel, make_models
from nexus_ml.logs import get_logger

log = get_logger(__name__)

DEFAULT_MODELS: tuple[str, ...] = ("nexus", "seasonal_naive", "statsforecast_mstl")
REFERENCE_MODEL = "seasonal_naive"


@dataclass(frozen=True)
class ProtocolV1:
    """The fixed parameters of forecast protocol v1 (change them only to make a new protocol)."""

    step: str = "5min"
    season: int = 288
    origin_every: int = 72  # 6 h of 5-min steps
    scored_steps: int = 3 * 288  # origins lie in the last 3 days
    max_train: int = 14 * 288
    horizon: int = 12
    level: int = 80


@dataclass
class ModelScore:
    """One model on one trace (or the aggregate over traces)."""

    mase: float
    coverage80: float
    width: float
    seconds: float
    origins: int
    relative_mase: float = math.nan


@dataclass
class BacktestReport:
    """Per-trace and aggregate scores; :meth:`to_json` gives the documented JSON shape."""

    traces: dict[str, dict[str, ModelScore]] = field(default_factory=dict)
    aggregate: dict[str, ModelScore] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        def clean(score: ModelScore) -> dict[str, Any]:
            return {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in asdict(score).items()
            }

        return {
            "aggregate": {m: clean(s) for m, s in self.aggregate.items()},
            "traces": {t: {m: clean(s) for m, s in ms.items()} for t, ms in self.traces.items()},
        }


def read_trace(path: Path) -> pd.Series:
    """Read a trace CSV in either layout of ../shared/data into a UTC-indexed float series.

    Layouts: ``ts,value`` (unix seconds), ``TimeStamp,Value[,Label]`` and ``timestamp,value``
    (ISO 8601 or similar).

    Raises
    ------
    InputError
        Unreadable file, unknown columns, unparsable timestamps or values, or no rows.
    """
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"{path}: not a readable CSV ({exc})", source=str(path)) from exc
    columns = {c.strip().lower(): c for c in frame.columns}
    if "ts" in columns and "value" in columns:
        raw_ts, unit = frame[columns["ts"]], "s"
    elif "timestamp" in columns and "value" in columns:
        raw_ts, unit = frame[columns["timestamp"]], None
    else:
        raise InputError(
            f"{path}: expected columns ts,value or TimeStamp,Value, got {','.join(frame.columns)}",
            source=str(path),
        )
    try:
        index = (
            pd.to_datetime(raw_ts, unit=unit, utc=True)
            if unit
            else pd.to_datetime(raw_ts, utc=True)
        )
        values = pd.to_numeric(frame[columns["value"]], errors="raise").astype(float)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: bad timestamp or value ({exc})", source=str(path)) from exc
    if len(frame) == 0:
        raise InputError(f"{path}: no rows", source=str(path))
    series = pd.Series(values.to_numpy(), index=pd.DatetimeIndex(index), name=path.stem)
    return series.sort_index()


def resample_trace(series: pd.Series, step: str) -> pd.Series:
    """Means per ``step`` bin, gaps forward-filled (protocol v1 preprocessing)."""
    out = series.resample(step).mean().ffill()
    out.name = series.name
    return out


def origin_positions(n: int, protocol: ProtocolV1) -> list[int]:
    """Origins (positions of the first forecast step) every ``origin_every`` steps in the scored
    span; every forecast window ends inside the data and every training window holds more than
    one season."""
    start = n - protocol.scored_steps
    return [
        o
        for o in range(start, n - protocol.horizon + 1, protocol.origin_every)
        if o > protocol.season + 1
    ]


def seasonal_naive_scale(train: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal naive on ``train`` (the MASE denominator)."""
    diffs = np.abs(train[season:] - train[:-season])
    diffs = diffs[np.isfinite(diffs)]
    return float(diffs.mean()) if diffs.size else math.nan


def backtest_series(
    series: pd.Series, models: Sequence[BacktestModel], protocol: ProtocolV1 = ProtocolV1()
) -> dict[str, ModelScore]:
    """Run protocol v1 on one already-resampled series for every model.

    Raises
    ------
    InputError
        The series is too short to hold a single origin.
    """
    values = series.to_numpy(dtype=float)
    origins = origin_positions(values.size, protocol)
    if not origins:
        raise InputError(
            f"series {series.name!r} has {values.size} steps of {protocol.step}, too short for "
            f"protocol v1 (needs more than {protocol.season + protocol.horizon + 1})"
        )
    errors: dict[str, list[np.ndarray]] = {m.name: [] for m in models}
    covered: dict[str, list[np.ndarray]] = {m.name: [] for m in models}
    widths: dict[str, list[np.ndarray]] = {m.name: [] for m in models}
    seconds = dict.fromkeys(errors, 0.0)
    used = skipped = 0
    for origin in origins:
        train = series.iloc[max(0, origin - protocol.max_train) : origin]
        actual = values[origin : origin + protocol.horizon]
        scale = seasonal_naive_scale(train.to_numpy(dtype=float), protocol.season)
        if not math.isfinite(scale) or scale <= 0:
            skipped += 1  # a flat training window: MASE is undefined there
            continue
        used += 1
        for model in models:
            started = time.perf_counter()
            forecast = model.fit_predict(train, protocol.horizon, protocol.level)
            seconds[model.name] += time.perf_counter() - started
            errors[model.name].append(np.abs(actual - forecast.mean) / scale)
            covered[model.name].append((actual >= forecast.lo) & (actual <= forecast.hi))
            widths[model.name].append((forecast.hi - forecast.lo) / scale)
    if skipped:
        log.warning(
            "backtest.origins_skipped",
            trace=series.name,
            skipped=skipped,
            reason="seasonal naive scale 0",
        )
    scores = {}
    for model in models:
        name = model.name
        if not used:
            scores[name] = ModelScore(math.nan, math.nan, math.nan, seconds[name], 0)
            continue
        scores[name] = ModelScore(
            mase=float(np.mean(np.concatenate(errors[name]))),
            coverage80=float(np.mean(np.concatenate(covered[name]))),
            width=float(np.mean(np.concatenate(widths[name]))),
            seconds=seconds[name],
            origins=used,
        )
    reference = scores.get(REFERENCE_MODEL)
    for score in scores.values():
        if reference is not None and reference.mase > 0:
            score.relative_mase = score.mase / reference.mase
    return scores


def aggregate_scores(traces: dict[str, dict[str, ModelScore]]) -> dict[str, ModelScore]:
    """Geometric mean of relative MASE; means of MASE, coverage and width; total seconds."""
    names = {m for scores in traces.values() for m in scores}
    out = {}
    for name in sorted(names):
        rows = [s[name] for s in traces.values() if name in s and s[name].origins]
        if not rows:
            continue
        rel = [r.relative_mase for r in rows if math.isfinite(r.relative_mase)]
        total = sum(r.origins for r in rows)
        out[name] = ModelScore(
            mase=float(np.mean([r.mase for r in rows])),
            coverage80=float(sum(r.coverage80 * r.origins for r in rows) / total),
            width=float(np.mean([r.width for r in rows])),
            seconds=float(sum(r.seconds for r in rows)),
            origins=total,
            relative_mase=float(np.exp(np.mean(np.log(rel)))) if rel else math.nan,
        )
    return out


def trace_files(folder: Path) -> list[Path]:
    """The CSV traces under ``folder`` (recursively), sorted; raises InputError when none."""
    if not folder.is_dir():
        raise InputError(f"not a folder: {folder}", source=str(folder))
    files = sorted(p for p in folder.rglob("*.csv") if p.is_file())
    if not files:
        raise InputError(f"no .csv traces in {folder}", source=str(folder))
    return files


def run_backtest(
    folder: Path,
    *,
    model_names: Sequence[str] = DEFAULT_MODELS,
    protocol: ProtocolV1 = ProtocolV1(),
    on_trace: Callable[[str], None] | None = None,
) -> BacktestReport:
    """Run protocol v1 over every trace of ``folder``; the seasonal naive always runs (it is the
    reference of the relative MASE).

    ``on_trace`` is called with each trace name once it is done (progress bars).
    """
    names = list(dict.fromkeys(model_names))
    if REFERENCE_MODEL not in names:
        names.append(REFERENCE_MODEL)
    models = make_models(names, protocol.season)
    files = trace_files(folder)
    series_by_name = {}
    for path in files:  # read them all first: a bad CSV fails before any slow work
        name = str(path.relative_to(folder).with_suffix(""))
        series_by_name[name] = resample_trace(read_trace(path), protocol.step)
    report = BacktestReport()
    for name, series in series_by_name.items():
        report.traces[name] = backtest_series(series, models, protocol)
        log.info("backtest.trace_done", trace=name)
        if on_trace is not None:
            on_trace(name)
    report.aggregate = aggregate_scores(report.traces)
    return report
