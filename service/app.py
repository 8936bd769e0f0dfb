"""The decision service, built by :func:`create_app` from settings (never at import time)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.crisis.alert_sink import alert_incident_sink_for
from nexus_ml.decide.policy import PolicyConfig
from nexus_ml.engine import Clock, DecisionEngine
from nexus_ml.ingest.factory import metric_source as choose_metric_source
from nexus_ml.ingest.source import MetricSource
from nexus_ml.logs import get_logger
from nexus_ml.models.registry.factory import model_store
from nexus_ml.models.registry.store import ModelStore
from nexus_ml.redact import install_log_redaction
from service.api.deps import require_token
from service.api.routes import alerts, dashboard, decisions, health, models, releases, rollback
from service.core.champions import ChampionRegistry, NoModelStore, poll_champions
from service.core.config import ServiceSettings
from service.core.http import BodySizeLimit, CatchAll, RequestTiming, install_error_handlers
from service.core.security import resolve_token
from service.core.telemetry import ServiceMetrics

log = get_logger(__name__)

DESCRIPTION = """\
Decisions for the Nexus ERP modules — scale, restart, roll back, alert — each with a calibrated
confidence and the evidence behind it. Every `/v1` route needs `Authorization: Bearer <token>`
(`NEXUS_API_TOKEN`). With no champion model a module is decided by the seed's trigger rules and
its decisions say `policy: "rules"`.
"""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def default_metric_source(settings: ServiceSettings, catalog: Catalog) -> MetricSource:
    """A metric frame file (``NEXUS_METRICS_PATH``), else Prometheus, else the live simulator
    (:func:`nexus_ml.ingest.factory.metric_source` chooses)."""
    from service.core.sim_source import SimulatorSource

    return choose_metric_source(
        settings,
        path=Path(settings.metrics_path) if settings.metrics_path else None,
        stale_after=timedelta(seconds=settings.staleness_s),
        fallback=lambda: SimulatorSource(catalog, seed=settings.sim_seed),
        label="NEXUS_METRICS_PATH",
    )


def default_model_store(settings: ServiceSettings) -> ModelStore:
    """MLflow when a tracking URI is configured, else the local folder store
    (:func:`nexus_ml.models.registry.factory.model_store` chooses)."""
    try:
        return model_store(settings)
    except ImportError as exc:  # a store not built in this checkout: rules only
        log.warning("service.no_model_store", error=str(exc), policy="rules")
        return NoModelStore()


def create_app(
    settings: ServiceSettings | None = None,
    *,
    catalog: Catalog | None = None,
    metric_source: MetricSource | None = None,
    model_store: ModelStore | None = None,
    clock: Clock = _utc_now,
    poll_models: bool = True,
) -> FastAPI:
    """Build the decision service.

    Parameters
    ----------
    settings
        Service settings; read from the environment when ``None``.
    catalog
        The module catalog; loaded from ``settings.catalog_path`` when ``None``.
    metric_source
        Where module-only requests read their window; see :func:`default_metric_source`.
    model_store
        Where the champions live; see :func:`default_model_store`.
    clock
        The time of a decision (tests pass a fixed one).
    poll_models
        Poll the store for alias moves every ``settings.model_poll_s`` while serving.
    """
    settings = settings or ServiceSettings()
    catalog = catalog or load_catalog(settings.catalog_path)
    metrics = ServiceMetrics()
    champions = ChampionRegistry(
        model_store if model_store is not None else default_model_store(settings),
        catalog.names,
        metrics,
    )
    engine = DecisionEngine(
        catalog,
        metric_source if metric_source is not None else default_metric_source(settings, catalog),
        champions,
        metrics,
        clock=clock,
        config=PolicyConfig(
            max_age_s=settings.staleness_s, scale_down_cooldown_s=settings.scale_down_cooldown_s
        ),
        window_minutes=settings.window_minutes,
        cache_s=settings.decision_cache_s,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # here, not earlier: uvicorn (re)configures logging in each worker before start-up
        install_log_redaction([*settings.secret_values(), app.state.api_token])
        await asyncio.to_thread(champions.refresh)
        poller = (
            asyncio.create_task(poll_champions(champions, settings.model_poll_s))
            if poll_models
            else None
        )
        try:
            yield
        finally:
            if poller is not None:
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller

    app = FastAPI(
        title="nexus-ml decision service",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.engine = engine
    app.state.champions = champions
    app.state.api_token = resolve_token(settings)
    app.state.incident_sink = alert_incident_sink_for(settings)  # Alertmanager → crisis store

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_token)])
    for module in (decisions, models, rollback, alerts, releases):
        v1.include_router(module.router)
    app.include_router(v1)
    app.include_router(health.router)
    app.include_router(dashboard.router)
    install_error_handlers(app)
    app.add_middleware(CatchAll)  # innermost: RequestTiming still sees its 500
    app.add_middleware(RequestTiming, metrics=metrics)
    app.add_middleware(
        BodySizeLimit, max_bytes=settings.max_body_bytes, read_timeout_s=settings.body_timeout_s
    )
    return app
