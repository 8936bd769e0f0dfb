"""The closed loop on real components (issue 6, Done when).

Three module services on the real Swarm; the simulator's exporter follows their running task
counts; the real Prometheus scrapes it; the real decision service (``create_app``) reads
Prometheus through the real PrometheusSource; the executor polls the service over HTTP and acts
on Swarm through SwarmBackend, auditing to PostgreSQL and alerting to a Telegram stand-in.
A compressed clock (see ``stack.py``) runs the simulated hour in about a minute; the stack is
assembled in ``harness.py``.

The service has no champion model here, so it decides with the seed's rules (``policy:
"rules"``); ``test_closed_loop_champion.py`` runs the same loop on champions served from MLflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.domain.decision import Action
from nexus_ml.execute.audit import AuditEntry
from nexus_ml.execute.guardrails import GuardrailConfig
from nexus_ml.sim.incidents import DemandSurge, LatencyDegradation

from .harness import AG, BOT_TOKEN, CRM, LOOP_COOLDOWNS, TOKEN, UM, Loop, closed_loop

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def loop(
    docker_host: str, prometheus_url: str, prometheus_targets_dir: Path, pg_dsn: str
) -> Iterator[Loop]:
    from service.core.champions import NoModelStore

    with closed_loop(
        catalog=load_catalog(),
        docker_host=docker_host,
        prometheus_url=prometheus_url,
        prometheus_targets_dir=prometheus_targets_dir,
        pg_dsn=pg_dsn,
        model_store=NoModelStore(),
        guardrails=GuardrailConfig(
            interval_s=60,  # simulated: one executor pass per simulated minute
            cooldown_s=LOOP_COOLDOWNS,  # compressed with the clock; the bars stay production's
            max_changes_per_hour=60,
        ),
    ) as running:
        yield running


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

    # 3. Agendamento degrades (latency, then errors, then a crash), no release running. The
    #    seed's restart rule fires with its measured confidence (0.80, see decide/health.py), at the
    #    production restart bar: the executor restarts the service and tells the operators,
    #    with the seed's fields. The health rule compares with the median response time
    #    before the last 15 minutes: wait until 30 clean minutes are in the window.
    loop.wait_for(
        "a 30-minute baseline", lambda: loop.clock.now() - t0 > timedelta(minutes=31), timeout_s=60
    )
    tasks_before = loop.task_ids(AG)
    degraded_at = loop.clock.now()
    loop.exporter.inject(
        # latency ×3 after ~5 simulated minutes, errors above 5 % after ~8
        LatencyDegradation(
            module=AG, start=degraded_at, duration=timedelta(minutes=12), magnitude=10.0
        )
    )
    loop.wait_for(
        "a restart of Agendamento",
        lambda: bool(loop.taken(degraded_at, Action.RESTART, AG)),
        timeout_s=40,
    )
    loop.wait_for(
        "the restarted Agendamento task",
        lambda: bool(loop.task_ids(AG)) and loop.task_ids(AG).isdisjoint(tasks_before),
        timeout_s=20,
    )
    loop.wait_for(
        "a degradation alert for Agendamento",
        lambda: any(
            "Degradação" in m.text and "nexus-agendamento" in m.text for m in loop.telegram.messages
        ),
        timeout_s=20,
    )
    message = next(
        m
        for m in loop.telegram.messages
        if "Degradação" in m.text and "nexus-agendamento" in m.text
    )
    for field in (
        "NEXUS - ALERTA CONTAINER",
        "<b>Container:</b> nexus-agendamento",
        "<b>Problema:</b>",
        "<b>Ação Tomada:</b>",
        "<b>Métricas:</b>",
        "Taxa de erro",
        "<b>Causa Provável:</b>",
        "<b>Próxima Ação:</b>",
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
    # the executor audits the resumption, then tells the operators: the message follows
    loop.wait_for(
        "the resumed alert",
        lambda: any("Operação retomada" in m.text for m in loop.telegram.messages),
        timeout_s=10,
    )
    # Secrets never reach the trail or the alerts.
    trail = " ".join(e.detail + str(e.data) for e in loop.audit.since(t0))
    texts = " ".join(m.text for m in loop.telegram.messages)
    assert TOKEN not in trail + texts and BOT_TOKEN not in trail + texts
