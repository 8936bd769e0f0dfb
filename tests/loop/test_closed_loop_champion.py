"""The closed loop on real components, decided by champions served from a real MLflow.

Same stack and scenario as ``test_closed_loop.py`` (Swarm, exporter, Prometheus,
``create_app``, executor, PostgreSQL audit, Telegram stand-in; see ``harness.py``), but the
project's training pipeline has fitted a forecaster and an anomaly detector per module on a
simulated week, published them to the MLflow server and aliased them ``champion``
(``champions.py``). The decision service loads them from MLflow and decides with the model
policy; the executor keeps its production confidence thresholds, so every action it takes was
sure enough by the model's own measure.

The surge differs from the rules-based test's ×40 step: demand ramps up over 12 minutes, as a
month-end close builds up, and the test asserts that the forecast scaled up before the
overload. (An abrupt step is where the model path is weak today: the first minute's averaged
demand lags its latency and errors, and the detector's restart can outrank the scale-up.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.domain.decision import Action
from nexus_ml.execute.audit import AuditEntry
from nexus_ml.execute.guardrails import GuardrailConfig
from nexus_ml.sim.incidents import BadRelease, DemandSurge

from .champions import Champions
from .harness import AG, CRM, LOOP_COOLDOWNS, SIM_START, UM, Loop, closed_loop

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PRODUCTION_CONFIDENCE = GuardrailConfig().min_confidence
# An audit row carries the simulated time its executor pass started; the decisions the pass
# fetched a few wall seconds later may already see an incident injected meanwhile.
TICK = timedelta(minutes=2)


@pytest.fixture
def loop(
    loop_champions: Champions,
    docker_host: str,
    prometheus_url: str,
    prometheus_targets_dir: Path,
    pg_dsn: str,
) -> Iterator[Loop]:
    with closed_loop(
        catalog=load_catalog(),
        docker_host=docker_host,
        prometheus_url=prometheus_url,
        prometheus_targets_dir=prometheus_targets_dir,
        pg_dsn=pg_dsn,
        model_store=loop_champions.store,
        guardrails=GuardrailConfig(
            interval_s=60,  # simulated: one executor pass per simulated minute
            cooldown_s=LOOP_COOLDOWNS,
            max_changes_per_hour=60,
        ),
        area="exec_loop_champion",
        services=2,  # two service replicas must decide alike (stateless decisions)
    ) as running:
        yield running


def decision_behind(loop: Loop, taken: AuditEntry) -> dict[str, Any]:
    """The decision (as the service sent it) that the executor acted on in ``taken``."""
    received = [
        e
        for e in loop.audit.since(taken.at - TICK)
        if e.event == "decision_received"
        and e.module == taken.module
        and e.action == taken.action
        and e.at <= taken.at
    ]
    assert received, f"no decision_received row before {taken}"
    return received[-1].data


def first_taken(loop: Loop, since: datetime, action: Action, module: str) -> AuditEntry:
    """The first ``action`` on ``module`` audited since ``since`` (waits for the audit row).

    The executor writes ``action_taken`` once Swarm has converged, a few seconds after the
    service spec (what ``Loop.replicas`` reads) changed.
    """
    loop.wait_for(
        f"{action.value} of {module} in the audit",
        lambda: bool(loop.taken(since - TICK, action, module)),
        timeout_s=30,
    )
    return loop.taken(since - TICK, action, module)[0]


def test_champions_from_mlflow_close_the_loop(loop: Loop, loop_champions: Champions) -> None:
    versions = {t.module: t.version for t in loop_champions.trained(timeout_s=1)}
    t0 = loop.clock.now()
    # Warm-up: fresh decisions, every one from its module's champion.
    loop.wait_for(
        "fresh decisions",
        lambda: loop.executor.source.fetch().decisions[0].stale_input is False,
        timeout_s=40,
    )
    batch = loop.executor.source.fetch()
    assert batch.policy == "model"
    for decision in batch.decisions:
        assert decision.policy == "model", decision
        assert decision.model_versions == {decision.module: versions[decision.module]}
    assert loop.replicas(CRM) == 1

    # 1. Month-end surge on CRM (×41 demand, ramping in over 12 minutes): the forecast scales up
    #    before the single replica saturates, and never beyond the module's maximum.
    surge_at = loop.clock.now()
    loop.exporter.inject(
        DemandSurge(module=CRM, start=surge_at, duration=timedelta(hours=2), magnitude=40.0)
    )
    loop.wait_for("CRM scale-up", lambda: loop.replicas(CRM) > 1, timeout_s=30)
    reaction = loop.clock.now() - surge_at
    assert reaction < timedelta(minutes=5), f"reacted after {reaction} simulated"
    loop.wait_for("CRM at 3+ replicas", lambda: loop.replicas(CRM) >= 3, timeout_s=30)
    assert loop.replicas(CRM) <= 4  # never beyond the catalog maximum
    sent = decision_behind(loop, first_taken(loop, surge_at, Action.SCALE_UP, CRM))
    assert sent["policy"] == "model"
    assert sent["model_versions"] == {CRM: versions[CRM]}
    assert sent["confidence"] >= PRODUCTION_CONFIDENCE[Action.SCALE_UP]
    evidence = {e["kind"]: e for e in sent["explanation"]}
    assert "forecast_peak" in evidence, sent["explanation"]
    # the forecast itself, not an overload already observed, made the scale-up sure enough
    p_exceed = evidence["exceed_probability"]["value"]
    assert p_exceed >= PRODUCTION_CONFIDENCE[Action.SCALE_UP], sent["explanation"]
    assert sent["reason"]

    # 2. Surge removed: replicas fall once the 5-minute scale-down stabilisation (and the
    #    wait after the last scale-up) has passed; as the HPA's default policy, a scale-down may
    #    go straight to its target, and successive ones are paced by the stabilisation alone.
    #    (How far they fall depends on how long the risk model remembers the surge's
    #    volatility: the last 30 minutes.)
    loop.exporter.clear()
    fall_from = loop.clock.now()
    last_up = loop.taken(surge_at, Action.SCALE_UP, CRM)[-1]
    loop.wait_for(
        "a CRM scale-down",
        lambda: bool(loop.taken(fall_from - TICK, Action.SCALE_DOWN, CRM)),
        timeout_s=45,
    )
    downs = loop.taken(fall_from - TICK, Action.SCALE_DOWN, CRM)
    assert downs[0].at - last_up.at >= timedelta(seconds=300), loop.trail()
    for step in downs:
        before, after = (int(n) for n in step.detail.split()[1::2][:2])
        assert after < before, step.detail
        sent = decision_behind(loop, step)
        assert sent["policy"] == "model"
        assert sent["confidence"] >= PRODUCTION_CONFIDENCE[Action.SCALE_DOWN]

    # 3. Agendamento's release degrades (latency ×5, 20 % errors) once 30 clean minutes give
    #    the health rule its baseline: the detector confirms, the executor restarts and alerts.
    loop.wait_for(
        "a 30-minute baseline", lambda: loop.clock.now() - t0 > timedelta(minutes=31), timeout_s=60
    )
    assert not loop.taken(SIM_START, Action.RESTART), loop.trail(60)
    tasks_before = loop.task_ids(AG)
    degraded_at = loop.clock.now()
    loop.exporter.inject(
        BadRelease(module=AG, start=degraded_at, duration=timedelta(hours=1), magnitude=4.0)
    )
    restarted = "<b>Ação Tomada:</b> Serviço reiniciado"

    def restart_messages() -> list[str]:
        return [
            m.text for m in loop.telegram.messages if "Degradação" in m.text and restarted in m.text
        ]

    loop.wait_for("a restart of Agendamento", lambda: bool(restart_messages()), timeout_s=60)
    restart = first_taken(loop, degraded_at, Action.RESTART, AG)
    assert loop.task_ids(AG).isdisjoint(tasks_before)  # the task was replaced
    sent = decision_behind(loop, restart)
    assert sent["policy"] == "model"
    assert sent["confidence"] >= PRODUCTION_CONFIDENCE[Action.RESTART]
    assert any(e["kind"] == "anomaly" for e in sent["explanation"]), sent["explanation"]
    # the seed rule restarted (both symptoms for 3 min, the detector confirming): a strong
    # anomaly score with one symptom only warns (decide/health.py)
    assert "(seed rule)" in sent["reason"], sent["reason"]
    assert "<b>Container:</b> nexus-agendamento" in restart_messages()[0]
    loop.exporter.clear()

    # Nothing else moved: User Management stayed at its minimum, only Agendamento restarted.
    assert loop.replicas(UM) == 2
    assert [e.module for e in loop.taken(SIM_START, Action.RESTART)] == [AG], loop.trail(60)

    # Two service replicas, each with its own engine, answered every question alike.
    assert loop.mirror is not None
    assert loop.mirror.compared >= 20 and loop.mirror.acting >= 3, vars(loop.mirror)
    assert loop.mirror.mismatches == [], loop.mirror.mismatches[:3]
