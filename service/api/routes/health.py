"""``/healthz``, ``/readyz`` and ``/metrics``: open, for orchestrators and Prometheus."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.api.deps import ChampionsDep, MetricsDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness", responses={503: {"description": "Not ready yet"}})
def readyz(champions: ChampionsDep) -> JSONResponse:
    """Ready once the champion models have been looked up at least once."""
    versions = champions.versions()
    body = {
        "status": "ready" if champions.ready else "starting",
        "models": versions,
        "policy": {m: ("model" if m in versions else "rules") for m in champions.modules},
    }
    return JSONResponse(body, status_code=200 if champions.ready else 503)


@router.get("/metrics", summary="Prometheus metrics of the service")
def metrics(service_metrics: MetricsDep) -> Response:
    return Response(generate_latest(service_metrics.registry), media_type=CONTENT_TYPE_LATEST)
