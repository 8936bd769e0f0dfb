"""Dependencies of the routes, as ``Annotated`` aliases (the app's state holds the objects)."""

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


def _settings(request: Request) -> ServiceSettings:
    settings: ServiceSettings = request.app.state.settings
    return settings


def _engine(request: Request) -> DecisionEngine:
    engine: DecisionEngine = request.app.state.engine
    return engine


def _catalog(request: Request) -> Catalog:
    return _engine(request).catalog


def _champions(request: Request) -> ChampionRegistry:
    champions: ChampionRegistry = request.app.state.champions
    return champions


def _metrics(request: Request) -> ServiceMetrics:
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


def require_token(
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
