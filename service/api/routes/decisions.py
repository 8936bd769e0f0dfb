"""``/v1/decisions``: what to do with one module, or with every module at once."""

from __future__ import annotations

from fastapi import APIRouter, Response
from starlette.concurrency import run_in_threadpool

from nexus_ml.decide.links import LinkLatency
from nexus_ml.domain import Decision
from service.api.deps import EngineDep, SettingsDep
from service.api.schemas import DecisionRequest, DecisionsResponse
from service.api.windows import resolve_window

router = APIRouter(prefix="/decisions", tags=["decisions"])


@router.get("", response_model=DecisionsResponse, summary="Every module's decision")
async def all_decisions(engine: EngineDep) -> Response:
    """One decision per catalog module; recomputed at most every ``decision_cache_s`` seconds."""
    snapshot = engine.cached_snapshot()  # the common case: no thread hop, no work
    if snapshot is None:
        snapshot = await run_in_threadpool(engine.snapshot)
    return Response(snapshot.body, media_type="application/json")


@router.post("", response_model=Decision, summary="One module's decision")
async def one_decision(body: DecisionRequest, engine: EngineDep, settings: SettingsDep) -> Response:
    """The decision for a module, from the posted window or the metric source."""

    def work() -> Decision:
        name, window = resolve_window(engine, body, settings.max_window_rows)
        links = None
        if body.link_latencies is not None:
            links = [LinkLatency(x.source, x.target, x.latency_ms) for x in body.link_latencies]
        return engine.decide(
            name,
            window,
            current_replicas=body.current_replicas,
            link_latencies=links,
            deployed_at=body.deployed_at,
        )

    decision = await run_in_threadpool(work)
    return Response(decision.model_dump_json(), media_type="application/json")
