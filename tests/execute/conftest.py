"""Builders shared by the executor tests: decisions, a scripted decision source, an executor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nexus_ml.alerts.notifier import LogNotifier
from nexus_ml.catalog import load_catalog
from nexus_ml.domain.decision import Action, Decision
from nexus_ml.errors import NexusError
from nexus_ml.execute.audit import MemoryAudit
from nexus_ml.execute.client import DecisionBatch
from nexus_ml.execute.guardrails import GuardrailConfig, Guardrails
from nexus_ml.execute.loop import Executor, ExecutorConfig
from nexus_ml.execute.memory import InMemoryCluster

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

CRM = "nexus-crm"


def decision(
    module: str = CRM,
    action: str = "hold",
    current: int = 1,
    target: int = 1,
    confidence: float = 0.9,
    **extra: Any,
) -> Decision:
    extra.setdefault("reason", f"test {action}")
    return Decision(
        module=module,
        action=Action(action),
        current_replicas=current,
        target_replicas=target,
        confidence=confidence,
        **extra,
    )


class ScriptedSource:
    """Returns whatever the test put in ``next``; an exception instance is raised instead."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.next: list[Decision] | NexusError = []
        self.rejected: list[Any] = []
        self.calls = 0
        self.observed: Any = None  # what the executor sent with its last fetch

    def fetch(self, observed: Any = None) -> DecisionBatch:
        self.calls += 1
        self.observed = observed
        if isinstance(self.next, NexusError):
            raise self.next
        return DecisionBatch(
            generated_at=self.clock(),
            policy="model",
            decisions=list(self.next),
            rejected=list(self.rejected),
        )


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cluster() -> InMemoryCluster:
    return InMemoryCluster({"nexus-user-management": 2, "nexus-agendamento": 1, CRM: 1})


@pytest.fixture
def make_executor(clock: Clock, cluster: InMemoryCluster) -> Callable[..., Executor]:
    def build(**overrides: Any) -> Executor:
        config = GuardrailConfig(interval_s=60, **overrides.pop("guard", {}))
        return Executor(
            overrides.pop("source", ScriptedSource(clock)),
            overrides.pop("backend", cluster),
            load_catalog(),
            Guardrails(config),
            overrides.pop("audit", MemoryAudit()),
            overrides.pop("notifier", LogNotifier()),
            config=ExecutorConfig(interval_s=60, executor_id="test"),
            clock=clock,
            **overrides,
        )

    return build
