"""Request and response bodies of the HTTP API, with the examples shown in the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue

from nexus_ml.domain import Decision, ErrorType, RollbackAnalysis, RollbackDecision

MAX_WINDOW_ROWS = 1440  # the schema's bound; the service may set a lower one
# Alertmanager labels and annotations: bounded so that one webhook cannot carry megabytes of
# text into a decision's reason (Prometheus itself has no limit)
_LabelName = Annotated[str, Field(min_length=1, max_length=128)]
_LabelValue = Annotated[str, Field(max_length=1024)]
_AnnotationValue = Annotated[str, Field(max_length=4096)]
Labels = dict[_LabelName, _LabelValue]
_MODULE = Field(min_length=1, max_length=100, examples=["nexus-crm"])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricRow(Strict):
    """One minute of a module's metrics; a missing field is a missing observation."""

    timestamp: datetime | None = Field(None, description="UTC; rows without it end now")
    cpu_usage: float | None = Field(None, ge=0, le=1000, allow_inf_nan=False)
    memory_usage: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    response_time: float | None = Field(None, ge=0, le=3_600_000, allow_inf_nan=False)
    active_connections: float | None = Field(None, ge=0, le=1e9, allow_inf_nan=False)
    error_rate: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    disk_usage: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    network_latency: float | None = Field(None, ge=0, le=3_600_000, allow_inf_nan=False)
    requests_per_min: float | None = Field(None, ge=0, le=1e12, allow_inf_nan=False)
    replicas: int | None = Field(None, ge=0, le=1000, description="Running replicas, if known")


_ROW_EXAMPLE: dict[str, JsonValue] = {
    "timestamp": "2026-11-30T14:00:00Z",
    "cpu_usage": 0.62,
    "memory_usage": 0.41,
    "response_time": 180.0,
    "active_connections": 35,
    "error_rate": 0.004,
    "disk_usage": 0.3,
    "network_latency": 12.0,
    "requests_per_min": 95.0,
    "replicas": 2,
}


class LinkLatencyIn(Strict):
    source: str = _MODULE
    target: str = Field(min_length=1, max_length=100, examples=["nexus-user-management"])
    latency_ms: float = Field(ge=0, le=3_600_000, allow_inf_nan=False)


class WindowRequest(Strict):
    """A module and, optionally, its recent metrics (read from the metric source when absent)."""

    module: str = _MODULE
    window: list[MetricRow] | None = Field(
        None, min_length=1, max_length=MAX_WINDOW_ROWS, description="Per-minute rows, oldest first"
    )


class DecisionRequest(WindowRequest):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"module": "nexus-crm"},
                {"module": "nexus-crm", "window": [_ROW_EXAMPLE], "current_replicas": 2},
            ]
        },
    )

    current_replicas: int | None = Field(None, ge=0, le=1000)
    deployed_at: AwareDatetime | None = Field(
        None,
        description="A recent deploy (with its timezone): the rows after it are judged against "
        "those before",
    )
    link_latencies: list[LinkLatencyIn] | None = Field(None, max_length=100)


class DecisionsResponse(BaseModel):
    """Every catalog module's decision (the executor's poll)."""

    generated_at: datetime
    decisions: list[Decision]
    policy: Literal["model", "rules"]


class ForecastRequest(WindowRequest):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"module": "nexus-crm", "horizon": 12, "levels": [80, 95]}]
        },
    )

    field: Literal["requests_per_min", "cpu_usage"] = "requests_per_min"
    horizon: int = Field(12, ge=1, le=1440, description="Steps of the model's own step")
    levels: list[Annotated[int, Field(ge=1, le=99)]] = Field(
        default_factory=lambda: [80], min_length=1, max_length=3, description="Interval levels, %"
    )


class ForecastPoint(BaseModel):
    ds: datetime
    mean: float | None
    lo: dict[str, float | None] = Field(description="Lower bound per interval level")
    hi: dict[str, float | None] = Field(description="Upper bound per interval level")


class ForecastResponse(BaseModel):
    module: str
    field: str
    model_version: str
    points: list[ForecastPoint]


class AnomalyPoint(BaseModel):
    timestamp: datetime
    combined: float | None
    fields: dict[str, float | None]


class AnomalyResponse(BaseModel):
    module: str
    model_version: str
    scores: list[AnomalyPoint]


class RollbackRequest(Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "failed_module": "nexus-user-management",
                    "error_type": "API_BREAKING",
                    "current_version": "2.4.0",
                    "last_stable_version": "2.3.1",
                    "integration_health": {"nexus-crm": False, "nexus-agendamento": True},
                }
            ]
        },
    )

    failed_module: str = _MODULE
    error_type: ErrorType
    current_version: str = Field("", max_length=100)
    last_stable_version: str = Field("", max_length=100)
    integration_health: dict[str, bool] = Field(
        default_factory=dict, max_length=100, description="Module at the other end → healthy"
    )


class RollbackResponse(BaseModel):
    analysis: RollbackAnalysis
    decision: RollbackDecision


class AlertIn(BaseModel):
    """One alert of an Alertmanager webhook (unknown fields are kept out, not rejected)."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: Labels = Field(default_factory=dict, max_length=100)
    annotations: dict[_LabelName, _AnnotationValue] = Field(default_factory=dict, max_length=100)
    startsAt: AwareDatetime | None = None  # Alertmanager spells its fields in camelCase
    endsAt: AwareDatetime | None = None
    fingerprint: str = Field("", max_length=200)


class AlertmanagerWebhook(BaseModel):
    """Alertmanager's webhook payload, version 4."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "version": "4",
                    "receiver": "nexus-ml",
                    "status": "firing",
                    "alerts": [
                        {
                            "status": "firing",
                            "labels": {
                                "alertname": "HighLatency",
                                "module": "nexus-crm",
                                "severity": "critical",
                            },
                            "annotations": {"summary": "p95 latency above 2 s"},
                            "startsAt": "2026-11-30T14:00:00Z",
                            "endsAt": "0001-01-01T00:00:00Z",
                        }
                    ],
                    "groupLabels": {"alertname": "HighLatency"},
                    "commonLabels": {"severity": "critical"},
                    "externalURL": "http://127.0.0.1:9093",
                }
            ]
        },
    )

    version: str = Field("4", max_length=10)
    receiver: str = Field("", max_length=200)
    status: Literal["firing", "resolved"]
    alerts: list[AlertIn] = Field(max_length=500)
    groupLabels: Labels = Field(default_factory=dict, max_length=100)
    commonLabels: Labels = Field(default_factory=dict, max_length=100)
    commonAnnotations: dict[_LabelName, _AnnotationValue] = Field(
        default_factory=dict, max_length=100
    )
    externalURL: str = Field("", max_length=2000)


class IgnoredAlert(BaseModel):
    alertname: str
    reason: str


class AlertDecisions(BaseModel):
    received: int
    decisions: list[Decision]
    ignored: list[IgnoredAlert]


class Problem(BaseModel):
    """The body of every error that is not a validation error."""

    detail: str
    error: str = Field(examples=["NotFoundError"])
    extra: dict[str, Any] = Field(default_factory=dict)
