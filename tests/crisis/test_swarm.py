"""On the real Swarm: a service (unique prefix) whose containers print transactions, a failed
integration call, a Python stack trace and a secret. Logs and tasks are collected bounded and
redacted; then a bad release meets the executor (Swarm backend) and the incident opens, collects
and reports by itself."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docker
import pytest
from docker.types import RollbackConfig, ServiceMode, UpdateConfig

from apps.stack.swarm import unique_prefix, wait_running
from nexus_ml.alerts.notifier import LogNotifier
from nexus_ml.catalog import load_catalog
from nexus_ml.crisis.automatic import AutoConfig, AutoIncidents
from nexus_ml.crisis.gather import log_rows
from nexus_ml.crisis.records_pg import PostgresRecordStore
from nexus_ml.crisis.rules import load_rules
from nexus_ml.crisis.swarm_evidence import collect_swarm, read_release
from nexus_ml.domain.decision import Evidence
from nexus_ml.execute.audit import MemoryAudit
from nexus_ml.execute.guardrails import GuardrailConfig, Guardrails
from nexus_ml.execute.incidents import IncidentHook
from nexus_ml.execute.loop import Executor, ExecutorConfig
from nexus_ml.execute.swarm import SwarmBackend
from nexus_ml.ingest.backfill import backfill
from nexus_ml.ingest.prometheus_source import PrometheusSource
from nexus_ml.ingest.promserver import LocalPrometheus
from nexus_ml.sim import BadRelease, simulate_history
from tests.execute.conftest import ScriptedSource, decision
from tests.ingest.conftest import need_binary
from tests.support.pg import fresh_database

pytestmark = pytest.mark.integration
CRM = "nexus-crm"
SECRET = "tok-9f8e7d6c5b4a3210"
SCRIPT = "; ".join([
    """echo '{"transaction_id": "tx-1", "customer_id": "c-9", "status": "failed", "amount": 10}'""",
    "echo 'transaction_id=tx-2 customer_id=c-7 status=declined'",
    "echo 'transaction_id=tx-3 customer_id=c-5 status=ok'",
    "echo 'target=nexus-user-management call_id=k1 status_code=503'",
    "echo 'Traceback (most recent call last):'",
    """echo '  File "pay.py", line 12, in charge'""",
    "echo 'ValueError: gateway refused'",
    f"echo 'connecting with token={SECRET}'",
    "exec sleep 3600",
])  # fmt: skip
MONITOR_NS = 200_000_000


@pytest.fixture(scope="module")
def client(docker_host: str) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=docker_host, timeout=30)
    yield c
    c.close()


@pytest.fixture
def service(client: docker.DockerClient) -> Iterator[str]:
    """A crm service (prefix ``crisis-test-…``) running ``SCRIPT``; removed afterwards."""
    prefix = unique_prefix("crisis-test")
    svc = client.services.create(
        "nexus-module:1", command=["/bin/sh", "-c", SCRIPT], name=prefix + CRM,
        mode=ServiceMode("replicated", replicas=1), stop_grace_period=1_000_000_000,
        update_config=UpdateConfig(monitor=MONITOR_NS),
        rollback_config=RollbackConfig(monitor=MONITOR_NS),
    )  # fmt: skip
    try:
        wait_running(client, [svc.id], 1)
        yield prefix
    finally:
        with suppress(docker.errors.NotFound):
            client.api.remove_service(svc.id)


def _logs_until(client: docker.DockerClient, name: str, count: int, **kw: object) -> list:  # type: ignore[type-arg]
    deadline = time.monotonic() + 20
    while True:
        evidence = collect_swarm(client, name, **kw)  # type: ignore[arg-type]
        if len(evidence.logs) >= count or time.monotonic() > deadline:
            return [evidence]
        time.sleep(0.3)


def test_logs_and_tasks_are_collected_bounded_and_redacted(
    client: docker.DockerClient, service: str
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    (evidence,) = _logs_until(client, service + CRM, 8, since=since, secrets=[SECRET])
    assert not evidence.error and not evidence.logs_truncated
    text = "\n".join(line.text for line in evidence.logs)
    assert SECRET not in text and "token=***" in text
    assert all(line.at is not None and line.at >= since for line in evidence.logs)
    (task,) = evidence.tasks
    assert task["state"] == "running" and task["image"] == "nexus-module:1"
    rows = log_rows(evidence.logs)
    assert [t["transaction_id"] for t in rows["affected_transactions"]] == ["tx-1", "tx-2", "tx-3"]
    assert [c["customer_id"] for c in rows["impacted_customers"]] == ["c-9", "c-7"]  # failed only
    (trace,) = rows["stack_traces"]
    assert trace["error"] == "ValueError: gateway refused" and "pay.py" in trace["trace"]
    assert rows["failed_integration_calls"][0]["status_code"] == 503
    small = collect_swarm(client, service + CRM, since=since, max_bytes=120, secrets=[SECRET])
    assert small.logs_truncated and 0 < len(small.logs) < len(evidence.logs)
    assert sum(len(line.text) for line in small.logs) <= 120
    gone = collect_swarm(client, service + "nexus-nope", since=since)
    assert gone.error and not gone.logs  # recorded, not raised


def test_the_release_read_for_an_incident_survives_a_scale_by_the_executor(
    client: docker.DockerClient, service: str
) -> None:
    """After a release and then a scale by the executor (which replaces Swarm's PreviousSpec),
    the incident still reads the release, not the scale; after a rollback, the image it rolled
    back from."""
    name = service + CRM
    client.services.get(name).update(image="nexus-module:2")
    deadline = time.monotonic() + 30  # Swarm moves UpdatedAt until the update completes
    while client.api.inspect_service(name).get("UpdateStatus", {}).get("State") != "completed":
        assert time.monotonic() < deadline, "release did not complete"
        time.sleep(0.2)
    released = read_release(client, name)
    assert (released["image"], released["previous_image"]) == ("nexus-module:2", "nexus-module:1")
    assert released["at"]
    backend = SwarmBackend(client, name_prefix=service)
    backend.scale(CRM, 2, timeout_s=30)
    assert read_release(client, name) == released  # Swarm's PreviousSpec is now the release
    backend.rollback(CRM, timeout_s=30)
    back = read_release(client, name)
    assert (back["image"], back["previous_image"]) == ("nexus-module:1", "nexus-module:2")
    assert back["at"] > released["at"]


def test_a_bad_release_on_swarm_opens_collects_and_reports_by_itself(
    client: docker.DockerClient, service: str, tmp_path: Path, pg_dsn: str
) -> None:
    need_binary("promtool")
    # The executor's clock runs 2 h behind: Prometheus serves backfilled blocks only up to about
    # an hour ago (newer samples belong to the head block, which promtool cannot write).
    lag = timedelta(hours=2)
    now = datetime.now(UTC).replace(second=0, microsecond=0) - lag
    release = BadRelease(module=CRM, start=now - timedelta(minutes=15),
                         duration=timedelta(minutes=30), magnitude=1.5)  # fmt: skip
    frame = simulate_history(load_catalog(), start=now - timedelta(hours=6),
                             days=(6 + 1) / 24, seed=17, incidents=[release])  # fmt: skip
    backfill(frame, tmp_path / "tsdb")
    with (
        fresh_database(pg_dsn, "crisis_e2e") as dsn,
        LocalPrometheus(tmp_path / "tsdb") as prom,
    ):
        source = PrometheusSource(prom.url, timeout_s=10)
        _bad_release_on_swarm(client, service, tmp_path, PostgresRecordStore(dsn), source, lag)


def _bad_release_on_swarm(
    client: docker.DockerClient,
    service: str,
    tmp_path: Path,
    store: PostgresRecordStore,
    source: PrometheusSource,
    lag: timedelta,
) -> None:
    name = service + CRM
    client.services.get(name).update(image="nexus-module:2")  # the bad release
    deadline = time.monotonic() + 30
    running = {"service": name, "desired-state": "running"}
    while read_release(client, name)["image"] != "nexus-module:2" or not any(
        t["Status"]["State"] == "running" and ":2" in t["Spec"]["ContainerSpec"]["Image"]
        for t in client.api.tasks(filters=running)
    ):
        assert time.monotonic() < deadline, "release did not converge"
        time.sleep(0.2)
    audit = MemoryAudit()
    auto = AutoIncidents(
        store=store, rules=load_rules(), catalog=load_catalog(),
        report_dir=tmp_path / "reports", source=source, audit=audit,
        docker_client=client, service_prefix=service, secrets=[SECRET],
        config=AutoConfig(healthy_for=timedelta(seconds=1), revenue_per_transaction=100.0),
    )  # fmt: skip
    hook = IncidentHook(auto)
    decisions = ScriptedSource(lambda: datetime.now(UTC) - lag)
    executor = Executor(
        decisions, SwarmBackend(client, name_prefix=service), load_catalog(),
        Guardrails(GuardrailConfig(interval_s=60)), audit, LogNotifier(),
        config=ExecutorConfig(interval_s=60, executor_id="swarm-e2e", action_timeout_s=30),
        incidents=hook, clock=lambda: datetime.now(UTC) - lag,
    )  # fmt: skip
    canary = Evidence(kind="canary", detail="canary score 97: regression in error_rate 0.01 → 0.2")
    decisions.next = [decision(CRM, "rollback", reason="failed release", explanation=(canary,))]
    (outcome,) = executor.tick().outcomes
    assert outcome.acted, outcome
    decisions.next = [decision(CRM, "hold")]
    executor.tick()
    time.sleep(1.2)
    executor.tick()
    assert hook.drain(60)
    hook.stop()
    (done,) = auto.closed
    report = done.report
    assert read_release(client, name)["image"] == "nexus-module:1"
    released = [e.data for e in audit.entries if e.event == "release_running"]
    assert released == [{"image": "nexus-module:2", "previous_image": "nexus-module:1"}]
    assert report.root_cause_code == "bad_release" and "nexus-module:2" in report.root_cause
    kept = report.data_kept
    assert kept["container_logs"] >= 8 and kept["task_states"] >= 2
    assert kept["stack_traces"] == 1  # every container printed it: one unique trace
    assert kept["affected_transactions"] == 2  # failed ones only, each once across tasks
    assert report.financial_impact.basis == "logs"
    assert report.financial_impact.amount == 200.0
    assert report.affected_customers == 2
    assert "response_time_samples" not in kept  # ERROR_BURST ignores it
    assert report.recovery_time_s is not None and report.recovery_time_s > 0
    # Prometheus series and cross-module call latencies, from the real Prometheus
    assert kept["metric_series"] > 500
    assert "call_latencies" not in kept and "call_latencies" in report.data_ignored  # by rule
    series = store.rows(done.record.id, "metric_series")
    assert {r.payload["module"] for r in series} == {CRM, "nexus-user-management"}
    assert (done.markdown.parent / "crisis.pt.png").is_file()
    assert report.rollback_modules == (CRM,)
    assert report.lessons_learned and report.prevention_actions and report.actions_taken
    everything = done.markdown.read_text() + done.html.read_text() + done.summary
    assert SECRET not in everything
    stored = "".join(str(r.payload) for c in kept for r in store.rows(done.record.id, c))
    assert SECRET not in stored and "token=***" in stored  # redacted before PostgreSQL
    assert store.incident(done.record.id).closed_at == done.record.closed_at
