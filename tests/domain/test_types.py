from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel, ValidationError

from nexus_ml.domain import (
    Action,
    ChangeType,
    ContainerHealthMetrics,
    CrisisReport,
    DatabaseChange,
    Decision,
    ErrorType,
    Evidence,
    MigrationPlan,
    MigrationStep,
    RollbackAnalysis,
    RollbackDecision,
    RollbackScope,
)

NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)

EXAMPLES: list[BaseModel] = [
    ContainerHealthMetrics(
        module="nexus-crm",
        container_id="abc",
        timestamp=NOW,
        cpu_usage=0.8,
        memory_usage=0.6,
        response_time=120.0,
        active_connections=42,
        error_rate=0.01,
        disk_usage=0.3,
        network_latency=15.0,
        requests_per_min=140.0,
    ),
    Decision(
        module="nexus-crm",
        action=Action.SCALE_UP,
        current_replicas=2,
        target_replicas=3,
        scale_up=True,
        reason="month-end surge",
        confidence=0.91,
        explanation=(Evidence(kind="forecast_peak", detail="p90 in 4 min", value=180.0),),
        policy="model",
        model_versions={"forecaster": "3"},
        decided_at=NOW,
    ),
    RollbackAnalysis(
        failed_module="nexus-crm",
        error_type="API_BREAKING",
        current_version="2.1",
        last_stable_version="2.0",
        affected_integrations=("nexus-agendamento",),
        minimum_scope=RollbackScope.DEPENDENCY_CHAIN,
        estimated_downtime_s=45.0,
        risk=0.4,
    ),
    RollbackDecision(
        scope=RollbackScope.DEPENDENCY_CHAIN,
        modules=("nexus-agendamento", "nexus-crm"),
        reason="API change breaks agendamento",
        confidence=0.8,
    ),
    MigrationPlan(
        steps=(
            MigrationStep(
                module="crm", number="0002", name="telefone2", depends_on=("user_management:0001",)
            ),
        ),
        changes=(
            DatabaseChange(
                module="crm",
                schema_name="crm",
                table="customers",
                column="telefone2",
                change_type=ChangeType.ADD_COLUMN,
            ),
        ),
        modules_in_order=("user_management", "crm"),
    ),
    CrisisReport(
        module="nexus-crm",
        error_type=ErrorType.MEMORY_LEAK,
        started_at=NOW,
        summary="leak",
        key_metrics={"memory_usage": 0.93},
    ),
]


@pytest.mark.parametrize("obj", EXAMPLES, ids=lambda o: type(o).__name__)
def test_json_round_trip(obj: BaseModel) -> None:
    again = type(obj).model_validate_json(obj.model_dump_json())
    assert again == obj


@pytest.mark.parametrize("obj", EXAMPLES, ids=lambda o: type(o).__name__)
def test_frozen(obj: BaseModel) -> None:
    field = next(iter(type(obj).model_fields))
    with pytest.raises(ValidationError):
        setattr(obj, field, getattr(obj, field))


def test_confidence_must_be_a_probability() -> None:
    with pytest.raises(ValidationError, match="confidence"):
        Decision(module="m", current_replicas=1, target_replicas=1, confidence=1.2)


def test_scale_up_needs_a_higher_target() -> None:
    with pytest.raises(ValidationError, match="target_replicas > current_replicas"):
        Decision(
            module="m",
            action=Action.SCALE_UP,
            current_replicas=3,
            target_replicas=3,
            confidence=0.5,
        )


def test_error_rate_is_a_fraction() -> None:
    with pytest.raises(ValidationError, match="error_rate"):
        ContainerHealthMetrics(
            module="m",
            cpu_usage=0,
            memory_usage=0,
            response_time=0,
            active_connections=0,
            error_rate=5,
            disk_usage=0,
            network_latency=0,
            requests_per_min=0,
        )
