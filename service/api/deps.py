"""Dependencies of the routes, as ``Annotated`` aliases (the app's state holds the objects).

Every dependency is ``async def``: FastAPI runs a plain ``def`` dependency in the thread pool,
and these only read ``app.state``; the thread hops cost more than the route itself (``GET
/v1/decisions`` in-process: 391 µs of CPU per request with them, 102 µs without; issue 19).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from nexus_ml.catalog import Catalog
from nexus_ml.engine import DecisionEngine
from service.core.champions import ChampionRegistry
from service.core.config import ServiceSettings
from service.core.security import check_bearer
from service.core.telemetry import ServiceMetrics

_bearer = HTTPBearer(auto_error=False, description="NEXUS_API_TOKEN")


async def _settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.settings
    return settings


def _engine_of(request: Request) -> DecisionEngine:
    engine: DecisionEngine = request.app.state.engine
    return engine


async def _engine(request: Request) -> DecisionEngine:
    return _engine_of(request)


async def _catalog(request: Request) -> Catalog:
    return _engine_of(request).catalog


async def _champions(request: Request) -> ChampionRegistry:
    champions: ChampionRegistry = request.app.state.champions
    return champions


async def _metrics(request: Request) -> ServiceMetrics:
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 without a bearer token, 403 with a wrong one (constant-time compare)."""
    check_bearer(credentials, request.app.state.api_token)


SettingsDep = Annotated[ServiceSettings, Depends(_settings)]
EngineDep = Annotated[DecisionEngine, Depends(_engine)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
ChampionsDep = Annotated[ChampionRegistry, Depends(_champions)]
MetricsDep = Annotated[ServiceMetrics, Depends(_metrics)]
