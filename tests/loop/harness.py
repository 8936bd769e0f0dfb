"""The closed loop assembled on real components, shared by the rules and the champion tests.

Three module services on the real Swarm; the simulator's exporter follows their running task
counts; the real Prometheus scrapes it; the real decision service (``create_app``) reads
Prometheus through the real PrometheusSource; the executor polls the service over HTTP and acts
on Swarm through SwarmBackend, auditing to PostgreSQL and alerting to a Telegram stand-in.
Everything runs on the compressed clock of ``stack.py``; the only choices left to a test are
where the champions come from and the executor's guardrails.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch

import docker
import pytest

from apps.stack.loop import (
    SPEED,
    CachedReplicas,
    CompressedClock,
    CompressedSource,
    ServiceThread,
    free_port,
    raw_query_catalog,
    write_target,
)
from apps.stack.swarm import module_services, unique_prefix
from nexus_ml.alerts.grouping import AlertGrouper
from nexus_ml.alerts.telegram import TelegramNotifier
from nexus_ml.catalog import Catalog
from nexus_ml.domain.decision import Action
from nexus_ml.engine import strategies
from nexus_ml.execute.audit import AuditEntry, PostgresAudit
from nexus_ml.execute.backend import ClusterBackend
from nexus_ml.execute.client import DecisionBatch, DecisionClient
from nexus_ml.execute.context import MetricContext
from nexus_ml.execute.guardrails import GuardrailConfig, Guardrails
from nexus_ml.execute.leader import PgLeaderLock
from nexus_ml.execute.loop import Executor, ExecutorConfig
from nexus_ml.execute.rollback_run import RollbackSetup
from nexus_ml.execute.swarm import SwarmBackend
from nexus_ml.ingest.prometheus_source import PrometheusSource
from nexus_ml.models.registry.store import ModelStore
from nexus_ml.sim.exporter import SimExporter
from nexus_ml.sim.simulator import ErpSimulator
from tests.support.pg import fresh_database
from tests.support.telegram_stub import TelegramStub

CRM, AG, UM = "nexus-crm", "nexus-agendamento", "nexus-user-management"
TOKEN = "closed-loop-token-0123456789"
BOT_TOKEN = "555:closed-loop-bot-token"
# 03:00 on the last day of November: the month-end close, while the ERP is otherwise quiet.
SIM_START = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)

#: Cooldowns between two actions on a module, in simulated seconds (the compressed hour).
LOOP_COOLDOWNS: dict[Action, float] = {
    Action.SCALE_UP: 30,
    Action.SCALE_DOWN: 150,
    Action.RESTART: 600,
    Action.ROLLBACK: 1800,
}


class MirroredClient:
    """Round-robin over several decision services, each asked the same question every time.

    Every fetch posts the executor's observation to all the services; the decisions of one of
    them (in turn) go to the executor, and the others' are compared with them. Answers given
    in different simulated minutes, or on data one of them saw as stale, are not comparable
    (the clock or the scrape moved between the requests) and are not compared.
    """

    def __init__(self, clients: list[DecisionClient]) -> None:
        self.clients = clients
        self.turn = 0
        self.compared = 0  # fetches whose answers were all from the same simulated minute
        self.acting = 0  # ... of which with at least one decision other than hold
        self.mismatches: list[str] = []

    def fetch(self, observed: Any = None) -> DecisionBatch:
        batches = [c.fetch(observed) for c in self.clients]
        minutes = {_minute(b) for b in batches}
        # a scrape landing between the requests makes one answer stale and the other fresh:
        # that is the world moving, not the services disagreeing
        fresh = all(not d.stale_input for b in batches for d in b.decisions)
        if len(minutes) == 1 and fresh:
            self.compared += 1
            seen = [_answers(b) for b in batches]
            if any(v[0] != "hold" for v in seen[0].values()):
                self.acting += 1
            for other in seen[1:]:
                if other != seen[0] and not self._world_moved(other, observed):
                    self.mismatches.append(f"{minutes.pop():%H:%M}: {seen[0]} != {other}")
                    break
        self.turn = (self.turn + 1) % len(batches)
        return batches[self.turn]

    def _world_moved(self, other: dict[str, tuple[str, int, float]], observed: Any) -> bool:
        """Ask the first service again: a sample that reached the metric source between the
        two requests of the same minute changes the newest minute's value for the later one.
        If the first service now answers as the other did, both decide alike on the same data."""
        again = self.clients[0].fetch(observed)
        return _answers(again) == other and not any(d.stale_input for d in again.decisions)


def _minute(batch: DecisionBatch) -> datetime:
    return batch.generated_at.replace(second=0, microsecond=0)


def _answers(batch: DecisionBatch) -> dict[str, tuple[str, int, float]]:
    return {d.module: (d.action.value, d.target_replicas, d.confidence) for d in batch.decisions}


@dataclass
class Loop:
    clock: CompressedClock
    exporter: SimExporter
    backend: SwarmBackend
    service: ServiceThread
    executor: Executor
    audit: PostgresAudit
    telegram: TelegramStub
    mirror: MirroredClient | None = None

    def replicas(self, module: str) -> int:
        return self.backend.services()[module].replicas

    def task_ids(self, module: str) -> set[str]:
        """IDs of the module's tasks Swarm wants running (a restart replaces them all)."""
        tasks = self.backend._client.api.tasks(
            filters={"service": self.backend._prefix + module, "desired-state": "running"}
        )
        return {t["ID"] for t in tasks}

    def trail(self, minutes: float = 10) -> str:
        """The last audit rows but the decisions received, one a line (for failure messages)."""
        recent = [
            f"{e.at:%H:%M:%S} {e.event} {e.module} {e.action} {e.reason} {e.detail[:90]}"
            for e in self.audit.since(self.clock.now() - timedelta(minutes=minutes))
            if e.event != "decision_received"
        ]
        return "\n".join(recent[-25:])

    def wait_for(self, what: str, check: Callable[[], bool], timeout_s: float) -> float:
        """Wall seconds until ``check()`` holds (fails the test after ``timeout_s``)."""
        start = time.monotonic()
        while not check():
            if time.monotonic() - start > timeout_s:
                pytest.fail(
                    f"timed out after {timeout_s:g} s waiting for {what}; recent audit:\n"
                    + self.trail()
                )
            time.sleep(0.2)
        return time.monotonic() - start

    def events(self, since: datetime) -> list[tuple[str, str, str, str]]:
        return [(e.event, e.module, e.action, e.reason) for e in self.audit.since(since)]

    def taken(self, since: datetime, action: Action, module: str | None = None) -> list[AuditEntry]:
        """The ``action_taken`` rows of ``action`` (on ``module``) since ``since``."""
        return [
            e
            for e in self.audit.since(since)
            if e.event == "action_taken"
            and e.action == action.value
            and (module is None or e.module == module)
        ]


@contextmanager
def closed_loop(
    *,
    catalog: Catalog,
    docker_host: str,
    prometheus_url: str,
    prometheus_targets_dir: Path,
    pg_dsn: str,
    model_store: ModelStore,
    guardrails: GuardrailConfig,
    area: str = "exec_loop",
    services: int = 1,
    rollback: RollbackSetup | None = None,
    backend_view: Callable[[SwarmBackend, CompressedClock], ClusterBackend] | None = None,
) -> Iterator[Loop]:
    """Start the whole loop at :data:`SIM_START`; everything is stopped and removed on exit.

    ``model_store`` is what the decision service serves (``NoModelStore()``: the seed's
    rules); it is read once when the service starts. With ``services`` > 1, that many
    decision services run side by side, each its own app with its own engine (its own
    strategies, detectors and caches), behind a :class:`MirroredClient`. ``rollback`` is
    what the executor's release rollbacks may use (database, smoke requests);
    ``backend_view`` wraps the Swarm backend the executor sees (e.g. Swarm's wall-clock
    times on the compressed clock).
    """
    from service.app import create_app
    from service.core.config import ServiceSettings

    run = uuid.uuid4().hex[:8]
    client = docker.DockerClient(base_url=docker_host, timeout=30)
    prefix = unique_prefix()
    telegram = TelegramStub().start()
    with (
        # the test Prometheus scrapes every wall second: a point settles one scrape later,
        # SPEED simulated seconds (the product's 15 s assume a 15 s scrape)
        patch.object(strategies, "SETTLE", timedelta(seconds=SPEED)),
        fresh_database(pg_dsn, area) as db,
        module_services(client, prefix, [UM], replicas=2),
        module_services(client, prefix, [AG, CRM], replicas=1),
    ):
        # the clock starts once the services run: the first simulated minute has metrics
        clock = CompressedClock(SIM_START)
        backend = SwarmBackend(client, name_prefix=prefix)
        mins = {m.name: m.min_replicas for m in catalog}
        exporter = SimExporter(
            ErpSimulator(catalog, seed=7),
            replicas_of=CachedReplicas(backend, mins),
            clock=clock,
            tick_s=0.5,
        ).start()
        target = write_target(prometheus_targets_dir, run, exporter.port)
        settings = ServiceSettings(
            api_token=TOKEN,
            decision_cache_s=0.5,
            window_minutes=40,  # the health rule's baseline needs 30 minutes
            staleness_s=180,
            scale_down_cooldown_s=120,
            state_dir=Path(f"/tmp/exec-loop-{run}"),
        )
        source = CompressedSource(
            PrometheusSource(prometheus_url, timeout_s=5, catalog=raw_query_catalog(run)),
            clock,
        )
        replicas = [
            ServiceThread(
                create_app(
                    settings,
                    catalog=catalog,
                    metric_source=source,
                    model_store=model_store,
                    clock=clock.now,
                    poll_models=False,
                ),
                free_port(),
            )
            for _ in range(services)
        ]
        service = replicas[0]
        clients = [
            DecisionClient(r.url, TOKEN, timeout_s=2, retries=1, backoff_s=0.2) for r in replicas
        ]
        mirror = MirroredClient(clients) if services > 1 else None
        audit = PostgresAudit(db)
        executor = Executor(
            mirror or clients[0],
            backend_view(backend, clock) if backend_view is not None else backend,
            catalog,
            Guardrails(guardrails),
            audit,
            TelegramNotifier(
                BOT_TOKEN,
                "-1001",
                base_url=telegram.base_url,
                grouper=AlertGrouper(300),
                backoff_s=0.1,
            ),
            lock=PgLeaderLock(db, name=f"exec-loop-{run}"),
            config=ExecutorConfig(interval_s=60 / SPEED, action_timeout_s=20, executor_id="loop"),
            clock=clock.now,
            context=MetricContext(source, clock.now, window=timedelta(minutes=40)),
            rollback=rollback,
        )
        stop = threading.Event()
        runner = threading.Thread(target=executor.run, args=(stop,), daemon=True)
        try:
            for r in replicas:
                r.start()
            runner.start()
            yield Loop(clock, exporter, backend, service, executor, audit, telegram, mirror)
        finally:
            stop.set()
            runner.join(15)
            for r in replicas:
                r.stop()
            exporter.stop()
            target.unlink(missing_ok=True)
            telegram.stop()
