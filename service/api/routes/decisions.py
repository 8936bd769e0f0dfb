"""``/v1/decisions``: what to do with one module, or with every module at once."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.exceptions import RequestValidationError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from nexus_ml.decide.links import LinkLatency
from nexus_ml.decide.observed import ModuleObservation, RecentAction
from nexus_ml.domain import Action, Decision
from service.api.deps import EngineDep, SettingsDep
from service.api.schemas import DecisionRequest, DecisionsResponse
from service.api.windows import resolve_window

router = APIRouter(prefix="/decisions", tags=["decisions"])


class RecentActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Action
    at: AwareDatetime


class ObservedModule(BaseModel):
    """What the executor observed of one module's service."""

    model_config = ConfigDict(extra="forbid")

    replicas: int | None = Field(None, ge=0, le=1000, description="Replicas in the service spec")
    recent_actions: list[RecentActionIn] = Field(
        default_factory=list, max_length=500, description="Actions applied in the last hour"
    )
    deployed_at: AwareDatetime | None = Field(None, description="When the image last changed")
    image: str = Field("", max_length=512, description="The image the service runs")
    version: int | None = Field(None, ge=0, description="The service spec's version index")
    updated_at: AwareDatetime | None = Field(None, description="Swarm's UpdatedAt of the spec")
    previous_image: str = Field(
        "", max_length=512, description="The image the running release replaced"
    )
    released_at: AwareDatetime | None = Field(
        None, description="When the running image was released"
    )
    update_state: str = Field("", max_length=64, description="Swarm's UpdateStatus.State")
    rolled_back: bool = Field(False, description="The spec is the executor's rollback")


class ObservedRequest(BaseModel):
    """The executor's view of the cluster: the service decides from it, not from memory."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "modules": {
                        "nexus-crm": {
                            "replicas": 2,
                            "recent_actions": [
                                {"action": "scale_up", "at": "2026-11-30T14:00:00Z"}
                            ],
                        }
                    }
                }
            ]
        },
    )

    modules: dict[str, ObservedModule] = Field(max_length=200)


@router.get("", response_model=DecisionsResponse, summary="Every module's decision")
async def all_decisions(engine: EngineDep) -> Response:
    """One decision per catalog module; recomputed at most every ``decision_cache_s`` seconds."""
    snapshot = engine.cached_snapshot()  # the common case: no thread hop, no work
    if snapshot is None:
        snapshot = await run_in_threadpool(engine.snapshot)
    return Response(snapshot.body, media_type="application/json")


@router.post(
    "/observed", response_model=DecisionsResponse, summary="Every module's decision, observed"
)
async def observed_decisions(body: ObservedRequest, engine: EngineDep) -> Response:
    """One decision per catalog module from what the executor observed (never cached)."""
    unknown = [name for name in body.modules if name not in engine.catalog.names]
    if unknown:
        raise RequestValidationError(
            [
                {
                    "loc": ("body", "modules", name),
                    "msg": f"unknown module {name!r}; known: {', '.join(engine.catalog.names)}",
                    "type": "value_error",
                    "input": name,
                }
                for name in unknown
            ]
        )
    observed = {
        name: ModuleObservation(
            replicas=m.replicas,
            recent_actions=tuple(RecentAction(a.action, a.at) for a in m.recent_actions),
            deployed_at=m.deployed_at,
            image=m.image,
            version=m.version,
            updated_at=m.updated_at,
            previous_image=m.previous_image,
            released_at=m.released_at,
            update_state=m.update_state,
            rolled_back=m.rolled_back,
        )
        for name, m in body.modules.items()
    }
    snapshot = await run_in_threadpool(engine.observed_snapshot, observed)
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
