"""``/v1/releases``: stored release verdicts, and judging two samples sent in the body.

``GET /v1/releases/{id}`` answers ``{"id", "verdict", "score", "reason", "metrics": [...]}``,
which Argo Rollouts' ``web`` metric provider reads with ``jsonPath: "{$.verdict}"``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from nexus_ml.release.config import DEFAULT_CONFIG, JudgeConfig
from nexus_ml.release.judge import judge
from nexus_ml.release.samples import MAX_METRIC_NAME, MetricSamples
from nexus_ml.release.store import RELEASE_ID_PATTERN, ReleaseStore, release_store_for
from nexus_ml.release.verdict import ReleaseStatus, Verdict
from service.core.config import ServiceSettings

router = APIRouter(tags=["releases"])

#: Rows per sample in a judge request (a 30-minute run scraped every 15 s with 20 metrics is
#: 2,400 rows); the body-size limit bounds the request as a whole.
MAX_SAMPLE_ROWS = 20_000
_ID = Field(None, pattern=RELEASE_ID_PATTERN, description="Store the verdict under this id")


class SampleRow(BaseModel):
    """One sample: a time, a metric name and a value (``null`` = missing)."""

    model_config = ConfigDict(extra="forbid")

    timestamp: datetime
    metric: str = Field(min_length=1, max_length=MAX_METRIC_NAME, examples=["latency_ms"])
    value: float | None = Field(allow_inf_nan=True)

    @field_validator("value")
    @classmethod
    def _not_infinite(cls, value: float | None) -> float | None:
        if value is not None and math.isinf(value):
            raise ValueError("must be finite or null")
        return value


class JudgeRequest(BaseModel):
    """Two samples of the same run and, optionally, the config and the cluster's status."""

    model_config = ConfigDict(extra="forbid")

    baseline: list[SampleRow] = Field(min_length=1, max_length=MAX_SAMPLE_ROWS)
    candidate: list[SampleRow] = Field(min_length=1, max_length=MAX_SAMPLE_ROWS)
    config: JudgeConfig | None = None
    release_status: ReleaseStatus | None = None
    id: str | None = _ID


def _samples(rows: list[SampleRow]) -> MetricSamples:
    def epoch(moment: datetime) -> float:
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()

    return MetricSamples.from_rows(
        (epoch(r.timestamp), r.metric, math.nan if r.value is None else r.value) for r in rows
    )


def _store(request: Request) -> ReleaseStore:
    # Built on first use from the app's settings (files under the state dir, or PostgreSQL).
    store: ReleaseStore | None = getattr(request.app.state, "release_store", None)
    if store is None:
        settings: ServiceSettings = request.app.state.settings
        dsn = settings.pg_dsn.get_secret_value() if settings.pg_dsn else None
        store = release_store_for(settings.state_dir, dsn)
        request.app.state.release_store = store
    return store


StoreDep = Annotated[ReleaseStore, Depends(_store)]


@router.get("/releases/{release_id}", response_model=Verdict, summary="A stored release verdict")
def get_release(
    release_id: Annotated[str, Path(pattern=RELEASE_ID_PATTERN, max_length=128)],
    store: StoreDep,
) -> Verdict:
    """The verdict stored under ``release_id`` (404 if none)."""
    return store.get(release_id)


@router.post("/releases/judge", response_model=Verdict, summary="Judge two metric samples")
def judge_release(body: JudgeRequest, store: StoreDep) -> Verdict:
    """Judge the candidate against the baseline; with ``id`` the verdict is also stored."""
    verdict = judge(
        _samples(body.baseline),
        _samples(body.candidate),
        body.config or DEFAULT_CONFIG,
        release_status=body.release_status,
        release_id=body.id,
        judged_at=datetime.now(UTC),
    )
    if body.id is not None:
        store.save(verdict)
    return verdict
