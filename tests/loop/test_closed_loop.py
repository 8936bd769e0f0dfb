"""The closed loop on real components (issue 6, Done when).

Three module services on the real Swarm; the simulator's exporter follows their running task
counts; the real Prometheus scrapes it; the real decision service (``create_app``) reads
Prometheus through the real PrometheusSource; the executor polls the service over HTTP and acts
on Swarm through SwarmBackend, auditing to PostgreSQL and alerting to a Telegram stand-in.
A compressed clock (see ``stack.py``) runs the simulated hour in about a minute.

The service has no champion model here, so it decides with the seed's rules (``policy:
"rules"``) — the model path is exercised by the service's own tests.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docker
import pytest

from nexus_ml.alerts.grouping import AlertGrouper
from nexus_ml.alerts.telegram import TelegramNotifier
from nexus_ml.catalog import load_catalog
from nexus_ml.domain.decision import Action
from nexus_ml.execute.audit import AuditEntry, PostgresAudit
from nexus_ml.execute.client import DecisionClient
from nexus_ml.execute.context import MetricContext
from nexus_ml.execute.guardrails import GuardrailConfig, Guardrails
from nexus_ml.execute.leader import PgLeaderLock
from nexus_ml.execute.loop import Executor, ExecutorConfig
from nexus_ml.execute.swarm import SwarmBackend
from nexus_ml.ingest.prometheus_source import PrometheusSource
from nexus_ml.sim.exporter import SimExporter
from nexus_ml.sim.incidents import BadRelease, DemandSurge
from nexus_ml.sim.simulator import ErpSimulator
from tests.support.pg import fresh_database
from tests.support.swarm import module_services, unique_prefix
from tests.support.telegram_stub import TelegramStub

from .stack import (
    SPEED,
    CachedReplicas,
    CompressedClock,
    CompressedSource,
    ServiceThread,
    free_port,
    raw_query_catalog,
    write_target,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CRM, AG, UM = "nexus-crm", "nexus-agendamento", "nexus-user-management"
TOKEN = "closed-loop-token-0123456789"
BOT_TOKEN = "555:closed-loop-bot-token"
# 03:00 on the last day of November: the month-end close, while the ERP is otherwise quiet.
SIM_START = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


@dataclass
class Loop:
    clock: CompressedClock
    exporter: SimExporter
    backend: SwarmBackend
    service: ServiceThread
    executor: Executor
    audit: PostgresAudit
    telegram: TelegramStub

    def replicas(self, module: str) -> int:
        return self.backend.services()[module].replicas

    def wait_for(self, what: str, check: Callable[[], bool], timeout_s: float) -> float:
        """Wall seconds until ``check()`` holds (fails the test after ``timeout_s``)."""
        start = time.monotonic()
        while not check():
            if time.monotonic() - start > timeout_s:
                recent = [
                    f"{e.at:%H:%M:%S} {e.event} {e.module} {e.action} {e.reason} {e.detail[:90]}"
                    for e in self.audit.since(self.clock.now() - timedelta(minutes=10))
                    if e.event != "decision_received"
                ]
                pytest.fail(
                    f"timed out after {timeout_s:g} s waiting for {what}; recent audit:\n"
                    + "\n".join(recent[-25:])
                )
            time.sleep(0.2)
        return time.monotonic() - start

    def events(self, since: datetime) -> list[tuple[str, str, str, str]]:
        return [(e.event, e.module, e.action, e.reason) for e in self.audit.since(since)]


@pytest.fixture
def loop(
    docker_host: str, prometheus_url: str, prometheus_targets_dir: Path, pg_dsn: str
) -> Iterator[Loop]:
    from service.app import create_app
    from service.core.champions import NoModelStore
    from service.core.config import ServiceSettings

    catalog = load_catalog()
    run = uuid.uuid4().hex[:8]
    client = docker.DockerClient(base_url=docker_host, timeout=30)
    prefix = unique_prefix()
    clock = CompressedClock(SIM_START)
    telegram = TelegramStub().start()
    with (
        fresh_database(pg_dsn, "exec_loop") as db,
        module_services(client, prefix, [UM], replicas=2),
        module_services(client, prefix, [AG, CRM], replicas=1),
    ):
        backend = SwarmBackend(client, name_prefix=prefix)
        mins = {m.name: m.min_replicas for m in catalog}
        exporter = SimExporter(
            ErpSimulator(catalog, seed=7),
            replicas_of=CachedReplicas(backend, mins),
            clock=clock,  # type: ignore[arg-type]
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
            run,
        )
        app = create_app(
            settings,
            catalog=catalog,
            metric_source=source,
            model_store=NoModelStore(),
            clock=clock.now,
            poll_models=False,
        )
        service = ServiceThread(app, free_port())
        service.start()
        audit = PostgresAudit(db)
        executor = Executor(
            DecisionClient(service.url, TOKEN, timeout_s=2, retries=1, backoff_s=0.2),
            backend,
            catalog,
            Guardrails(
                GuardrailConfig(
                    interval_s=60,  # simulated: one executor pass per simulated minute
                    cooldown_s={
                        Action.SCALE_UP: 30,
                        Action.SCALE_DOWN: 150,
                        Action.RESTART: 600,
                        Action.ROLLBACK: 1800,
                    },
                    min_confidence={Action.RESTART: 0.6, Action.SCALE_UP: 0.5},
                    max_changes_per_hour=60,
                )
            ),
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
        )
        import threading

        stop = threading.Event()
        runner = threading.Thread(target=executor.run, args=(stop,), daemon=True)
        runner.start()
        try:
            yield Loop(clock, exporter, backend, service, executor, audit, telegram)
        finally:
            stop.set()
            runner.join(15)
            service.stop()
            exporter.stop()
            target.unlink(missing_ok=True)
            telegram.stop()


def test_the_closed_loop_on_real_components(loop: Loop) -> None:
    t0 = loop.clock.now()
    # Warm-up: Prometheus has the exporter's series and the service decides on fresh data.
    loop.wait_for(
        "fresh decisions",
        lambda: (
            any(e[0] == "decision_received" and e[1] == CRM for e in loop.events(t0))
            and loop.executor.source.fetch().decisions[0].stale_input is False
        ),
        timeout_s=40,
    )
    assert loop.replicas(CRM) == 1

    # 1. Month-end surge on CRM (×40 demand): replicas rise before a 5-minute trigger could fire.
    surge_at = loop.clock.now()
    loop.exporter.inject(
        DemandSurge(module=CRM, start=surge_at, duration=timedelta(minutes=20), magnitude=40.0)
    )
    loop.wait_for("CRM scale-up", lambda: loop.replicas(CRM) > 1, timeout_s=30)
    reaction = loop.clock.now() - surge_at
    assert reaction < timedelta(minutes=5), f"reacted after {reaction} simulated"
    loop.wait_for("CRM at 3+ replicas", lambda: loop.replicas(CRM) >= 3, timeout_s=30)
    assert loop.replicas(CRM) <= 4  # never beyond the catalog maximum

    # 2. Surge removed: replicas fall one at a time, at least a cooldown apart.
    loop.exporter.clear()
    fall_from = loop.clock.now()

    def downs() -> list[AuditEntry]:
        return [
            e
            for e in loop.audit.since(fall_from)
            if e.event == "action_taken" and e.action == "scale_down"
        ]

    loop.wait_for("two CRM scale-downs", lambda: len(downs()) >= 2, timeout_s=40)
    first, second = downs()[:2]
    for step in (first, second):
        before, after = (int(n) for n in step.detail.split()[1::2][:2])
        assert after == before - 1, step.detail
    assert second.at - first.at >= timedelta(seconds=150), (first.at, second.at)

    # 3. Agendamento degrades (latency ×5, 20 % errors): a restart and a Telegram message with
    #    the seed's fields. The health rule compares with the median response time before the
    #    last 15 minutes: wait until 30 clean minutes are in the window before degrading.
    loop.wait_for(
        "a 30-minute baseline", lambda: loop.clock.now() - t0 > timedelta(minutes=31), timeout_s=60
    )
    tasks_before = {
        t["ID"]
        for t in loop.backend._client.api.tasks(
            filters={"service": loop.backend._prefix + AG, "desired-state": "running"}
        )
    }
    loop.exporter.inject(
        BadRelease(module=AG, start=loop.clock.now(), duration=timedelta(hours=1), magnitude=4.0)
    )
    loop.wait_for(
        "a restart of Agendamento",
        lambda: any(m.text.count("Degradação") for m in loop.telegram.messages),
        timeout_s=40,
    )
    tasks_after = {
        t["ID"]
        for t in loop.backend._client.api.tasks(
            filters={"service": loop.backend._prefix + AG, "desired-state": "running"}
        )
    }
    assert tasks_after and tasks_after.isdisjoint(tasks_before)  # the task was replaced
    message = next(m for m in loop.telegram.messages if "Degradação" in m.text)
    for field in (
        "<b>Container:</b> nexus-agendamento",
        "<b>Ação tomada:</b> Serviço reiniciado",
        "<b>Métricas-chave:</b>",
        "Taxa de erro",
        "<b>Causa provável:</b>",
        "<b>Próxima ação:</b>",
    ):
        assert field in message.text, field
    loop.exporter.clear()

    # 4. The service is killed: the executor holds and alerts; back: it resumes.
    loop.service.stop()
    killed_at = loop.clock.now()
    loop.wait_for(
        "a service-down alert",
        lambda: any("Serviço de decisão indisponível" in m.text for m in loop.telegram.messages),
        timeout_s=20,
    )
    replicas_while_down = {m: loop.replicas(m) for m in (UM, AG, CRM)}
    loop.service.start()
    loop.wait_for(
        "resumed",
        lambda: ("fetch_resumed", "", "", "service_back") in loop.events(killed_at),
        timeout_s=20,
    )
    events = loop.events(killed_at)
    assert ("fetch_failed", "", "", "service_unavailable") in events
    down = [e for e in events[: events.index(("fetch_resumed", "", "", "service_back"))]]
    assert not [e for e in down if e[0] == "action_taken"]  # held while blind
    assert replicas_while_down[UM] == 2
    assert any("Operação retomada" in m.text for m in loop.telegram.messages)
    # Secrets never reach the trail or the alerts.
    trail = " ".join(e.detail + str(e.data) for e in loop.audit.since(t0))
    texts = " ".join(m.text for m in loop.telegram.messages)
    assert TOKEN not in trail + texts and BOT_TOKEN not in trail + texts
