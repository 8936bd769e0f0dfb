"""The fault matrix: each fault ends in no unsafe action, a clear log line, an alert and an
audit entry in PostgreSQL.

Real components where the fault lives: the HTTP client against a closed port, the Swarm
backend against the real Engine (a refused update) and against an Engine that hangs, the leader
lock and the audit trail on PostgreSQL.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from apps.stack.swarm import module_services, unique_prefix
from nexus_ml.alerts.notifier import LogNotifier
from nexus_ml.catalog import load_catalog
from nexus_ml.execute.audit import AuditEntry, PostgresAudit
from nexus_ml.execute.client import DecisionClient
from nexus_ml.execute.guardrails import GuardrailConfig, Guardrails
from nexus_ml.execute.leader import PgLeaderLock
from nexus_ml.execute.loop import Executor, ExecutorConfig
from nexus_ml.execute.memory import InMemoryCluster
from nexus_ml.execute.swarm import SwarmBackend
from tests.support.pg import fresh_database

from .conftest import CRM, Clock
from .test_swarm import hanging_engine

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(pg_dsn: str) -> Iterator[str]:
    with fresh_database(pg_dsn, "exec_faults") as dsn:
        yield dsn


@pytest.fixture
def audit(db: str) -> PostgresAudit:
    return PostgresAudit(db, schema=f"audit_{uuid.uuid4().hex[:8]}")


def stand_in(clock: Clock, *decisions: dict[str, Any], age_s: float = 0) -> httpx.MockTransport:
    """The decision service's contract, served in-process."""

    def handler(request: httpx.Request) -> httpx.Response:
        stamp = (clock.now - timedelta(seconds=age_s)).isoformat()
        body = [
            {"decided_at": stamp, "confidence": 0.9, "reason": "stand-in", **d} for d in decisions
        ]
        return httpx.Response(
            200, json={"generated_at": stamp, "decisions": body, "policy": "model"}
        )

    return httpx.MockTransport(handler)


def executor(source: Any, backend: Any, audit: PostgresAudit, clock: Clock, **kw: Any) -> Executor:
    notifier = kw.pop("notifier", LogNotifier())
    return Executor(
        source,
        backend,
        load_catalog(),
        Guardrails(GuardrailConfig(interval_s=60)),
        audit,
        notifier,
        config=ExecutorConfig(interval_s=60, executor_id=kw.pop("id", "x")),
        clock=clock,
        **kw,
    )


def assert_fault(
    ex: Executor,
    caplog: pytest.LogCaptureFixture,
    audit: PostgresAudit,
    clock: Clock,
    *,
    log: str,
    problem: str,
    event: str,
    reason: str,
) -> list[AuditEntry]:
    assert log in caplog.text, caplog.text
    assert problem in [a.problem for a in ex.notifier.sent]  # type: ignore[attr-defined]
    rows = audit.since(clock.now - timedelta(hours=1))
    assert (event, reason) in [(r.event, r.reason) for r in rows], rows
    assert ("alert_sent", problem) in [(r.event, r.reason) for r in rows]
    return rows


def test_prometheus_down_no_scale_down_on_missing_data(audit, caplog) -> None:
    clock, cluster = Clock(), InMemoryCluster({CRM: 3})
    source = DecisionClient(
        "http://svc",
        "t",
        transport=stand_in(
            clock,
            {
                "module": CRM,
                "action": "scale_down",
                "current_replicas": 3,
                "target_replicas": 2,
                "stale_input": True,
            },
        ),
    )
    ex = executor(source, cluster, audit, clock)
    with caplog.at_level(logging.INFO):
        ex.tick()
    assert cluster.calls == [] and cluster.services()[CRM].replicas == 3
    assert_fault(
        ex,
        caplog,
        audit,
        clock,
        log="executor.action_skipped action=scale_down module=nexus-crm reason=stale_input",
        problem="metrics_unavailable",
        event="action_skipped",
        reason="stale_input",
    )


def test_service_down_holds(audit, caplog) -> None:
    clock, cluster = Clock(), InMemoryCluster({CRM: 2})
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    source = DecisionClient(f"http://127.0.0.1:{port}", "t", retries=1, backoff_s=0.01, timeout_s=1)
    ex = executor(source, cluster, audit, clock)
    with caplog.at_level(logging.INFO):
        report = ex.tick()
    assert not report.fetched and cluster.calls == []
    assert_fault(
        ex,
        caplog,
        audit,
        clock,
        log="executor.service_unavailable holding=true",
        problem="service_down",
        event="fetch_failed",
        reason="service_unavailable",
    )


def test_docker_api_error(audit, caplog, docker_host: str) -> None:
    clock, client = Clock(), docker.DockerClient(base_url=docker_host, timeout=30)
    prefix = unique_prefix()
    with module_services(client, prefix, [CRM], mode="global"):
        source = DecisionClient(
            "http://svc",
            "t",
            transport=stand_in(
                clock,
                {"module": CRM, "action": "scale_up", "current_replicas": 1, "target_replicas": 2},
            ),
        )
        ex = executor(source, SwarmBackend(client, name_prefix=prefix), audit, clock)
        with caplog.at_level(logging.INFO):
            (outcome,) = ex.tick().outcomes
        spec = client.api.inspect_service(prefix + CRM)["Spec"]
    assert outcome.reason == "cluster_error" and "Global" in spec["Mode"]  # unchanged
    assert_fault(
        ex,
        caplog,
        audit,
        clock,
        log='executor.action_failed action=scale_up module=nexus-crm error="cannot update service',
        problem="cluster_error",
        event="action_failed",
        reason="cluster_error",
    )


def test_docker_api_timeout(audit, caplog, tmp_path: Path) -> None:
    clock = Clock()
    url, server = hanging_engine(tmp_path)
    try:
        backend = SwarmBackend(docker.DockerClient(base_url=url, version="1.41", timeout=1))
        source = DecisionClient(
            "http://svc",
            "t",
            transport=stand_in(
                clock,
                {"module": CRM, "action": "scale_up", "current_replicas": 1, "target_replicas": 2},
            ),
        )
        ex = executor(source, backend, audit, clock)
        with caplog.at_level(logging.INFO):
            (outcome,) = ex.tick().outcomes
    finally:
        server.close()
    assert outcome.reason == "cluster_unavailable" and not outcome.acted
    assert_fault(
        ex,
        caplog,
        audit,
        clock,
        log="executor.cluster_unavailable",
        problem="cluster_error",
        event="cluster_error",
        reason="cluster_unavailable",
    )


def test_out_of_range_decisions(audit, caplog) -> None:
    clock, cluster = Clock(), InMemoryCluster({CRM: 1})
    source = DecisionClient(
        "http://svc",
        "t",
        transport=stand_in(
            clock,
            {"module": CRM, "action": "scale_up", "current_replicas": 1, "target_replicas": 5000},
            {"module": CRM, "action": "scale_up", "current_replicas": 1, "target_replicas": 9},
        ),
    )
    ex = executor(source, cluster, audit, clock)
    with caplog.at_level(logging.INFO):
        ex.tick()
    assert cluster.calls == []
    rows = assert_fault(
        ex,
        caplog,
        audit,
        clock,
        log="executor.decision_rejected module=nexus-crm",
        problem="invalid_decision",
        event="decision_rejected",
        reason="invalid_decision",
    )
    assert_fault(
        ex,
        caplog,
        audit,
        clock,
        log='reason=out_of_range detail="target_replicas 9 outside [1, 4]"',
        problem="out_of_range",
        event="action_skipped",
        reason="out_of_range",
    )
    assert any("5000" in r.detail for r in rows)


def test_stale_decision(audit, caplog) -> None:
    clock, cluster = Clock(), InMemoryCluster({CRM: 1})
    source = DecisionClient(
        "http://svc",
        "t",
        transport=stand_in(
            clock,
            {"module": CRM, "action": "scale_up", "current_replicas": 1, "target_replicas": 2},
            age_s=300,
        ),
    )
    ex = executor(source, cluster, audit, clock)
    with caplog.at_level(logging.INFO):
        ex.tick()
    assert cluster.calls == []
    assert_fault(
        ex,
        caplog,
        audit,
        clock,
        log="executor.action_skipped action=scale_up module=nexus-crm reason=stale_decision",
        problem="stale_decision",
        event="action_skipped",
        reason="stale_decision",
    )


def test_two_executors_never_both_act(audit, db, caplog) -> None:
    import psycopg

    clock, cluster = Clock(), InMemoryCluster({CRM: 1})
    source = DecisionClient(
        "http://svc",
        "t",
        transport=stand_in(
            clock, {"module": CRM, "action": "restart", "current_replicas": 1, "target_replicas": 1}
        ),
    )
    name = f"exec-test-{uuid.uuid4().hex[:6]}"
    first = executor(source, cluster, audit, clock, lock=PgLeaderLock(db, name=name), id="first")
    second = executor(source, cluster, audit, clock, lock=PgLeaderLock(db, name=name), id="second")
    with caplog.at_level(logging.INFO):
        assert first.tick().leader and not second.tick().leader
        assert cluster.restarts[CRM] == 1
        # The leader dies; the standby takes over but remembers (from the trail) the restart.
        with psycopg.connect(db, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first.lock.backend_pid(),))  # type: ignore[attr-defined]
        clock.advance(60)
        for _ in range(50):
            report = second.tick()
            if report.leader:
                break
        assert report.leader and [o.reason for o in report.outcomes] == ["cooldown"]
        assert not first.tick().leader
    assert cluster.restarts[CRM] == 1  # no double action
    rows = audit.since(clock.now - timedelta(hours=1))
    assert [(r.executor, r.event) for r in rows if r.event in ("leader", "standby")] == [
        ("first", "leader"),
        ("second", "standby"),
        ("second", "leader"),
        ("first", "standby"),
    ]
    assert "role=standby" in caplog.text
    first.lock.release()
    second.lock.release()
