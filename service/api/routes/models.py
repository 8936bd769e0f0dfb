"""``/v1/forecast`` and ``/v1/anomalies``: the champion models' own outputs."""

from __future__ import annotations

import math

import pandas as pd
from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from nexus_ml.engine import DecisionEngine
from nexus_ml.errors import NotFoundError
from nexus_ml.models.registry.store import ModelBundle
from service.api.deps import EngineDep, SettingsDep
from service.api.schemas import (
    AnomalyPoint,
    AnomalyResponse,
    ForecastPoint,
    ForecastRequest,
    ForecastResponse,
    WindowRequest,
)
from service.api.windows import resolve_window

router = APIRouter(tags=["models"])


def _num(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _champion(engine: DecisionEngine, module: str) -> ModelBundle:
    bundle = engine.champions.get(module)
    if bundle is None:
        raise NotFoundError(f"no champion model for {module!r}: train one (nexus-ml train)")
    return bundle


@router.post("/forecast", response_model=ForecastResponse, summary="Forecast one metric")
async def forecast(
    body: ForecastRequest, engine: EngineDep, settings: SettingsDep
) -> ForecastResponse:
    """The champion's forecast with intervals, conditioned on the recent window."""

    def work() -> ForecastResponse:
        name, window = resolve_window(engine, body, settings.max_window_rows)
        bundle = _champion(engine, name)
        levels = sorted(set(body.levels))
        frame = engine.forecast_frame(bundle, body.field, window, body.horizon, levels)
        points = [
            ForecastPoint(
                ds=pd.Timestamp(row["ds"]).to_pydatetime(),
                mean=_num(row["mean"]),
                lo={str(lv): _num(row.get(f"lo-{lv}")) for lv in levels},
                hi={str(lv): _num(row.get(f"hi-{lv}")) for lv in levels},
            )
            for row in frame.to_dict("records")
        ]
        return ForecastResponse(
            module=name, field=body.field, model_version=bundle.version, points=points
        )

    return await run_in_threadpool(work)


@router.post("/anomalies", response_model=AnomalyResponse, summary="Anomaly scores of a window")
async def anomalies(
    body: WindowRequest, engine: EngineDep, settings: SettingsDep
) -> AnomalyResponse:
    """The champion detector's scores in [0, 1] for every row of the window."""

    def work() -> AnomalyResponse:
        name, window = resolve_window(engine, body, settings.max_window_rows)
        bundle = _champion(engine, name)
        frame = engine.anomaly_frame(bundle, window) if len(window) else pd.DataFrame()
        points = []
        for ts, (_, row) in zip(window.timestamps, frame.iterrows(), strict=False):
            fields = {str(k): _num(v) for k, v in row.items() if k != "combined"}
            points.append(
                AnomalyPoint(timestamp=ts, combined=_num(row.get("combined")), fields=fields)
            )
        return AnomalyResponse(module=name, model_version=bundle.version, scores=points)

    return await run_in_threadpool(work)
