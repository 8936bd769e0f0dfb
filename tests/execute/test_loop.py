"""The executor loop on the in-memory cluster: acting, holding, alerting, auditing."""

from __future__ import annotations

from nexus_ml.alerts.notifier import LogNotifier
from nexus_ml.catalog import load_catalog
from nexus_ml.domain.decision import Evidence
from nexus_ml.domain.rollback import RollbackScope
from nexus_ml.errors import ClusterError
from nexus_ml.execute.audit import MemoryAudit
from nexus_ml.execute.client import DecisionServiceError
from nexus_ml.execute.loop import rollback_plan
from nexus_ml.execute.memory import InMemoryCluster

from .conftest import CRM, ScriptedSource, decision

UM, AG = "nexus-user-management", "nexus-agendamento"


def test_scale_up_is_applied_audited_and_then_cooled_down(make_executor, cluster, clock) -> None:
    source, audit = ScriptedSource(clock), MemoryAudit()
    ex = make_executor(source=source, audit=audit)
    source.next = [decision(action="scale_up", current=1, target=3)]
    report = ex.tick()
    assert [o.reason for o in report.outcomes] == ["ok"]
    assert cluster.services()[CRM].replicas == 3
    source.next = [decision(action="scale_up", current=3, target=4)]
    clock.advance(10)
    assert [o.reason for o in ex.tick().outcomes] == ["cooldown"]
    events = [(e.event, e.reason) for e in audit.entries]
    assert events == [
        ("leader", "leader_lock"),
        ("decision_received", "test scale_up"),
        ("action_taken", "ok"),
        ("alert_sent", "demand_high"),  # a routine scale-up alerts too (grouped per module)
        ("decision_received", "test scale_up"),
        ("action_skipped", "cooldown"),
    ]


def test_the_service_is_told_what_runs_and_what_was_applied(make_executor, cluster, clock) -> None:
    source = ScriptedSource(clock)
    ex = make_executor(source=source)
    source.next = [decision(action="scale_up", current=1, target=3)]
    ex.tick()
    assert source.observed[CRM].replicas == 1 and source.observed[CRM].recent_actions == ()
    clock.advance(10)
    source.next = []
    ex.tick()
    seen = source.observed[CRM]
    assert seen.replicas == 3  # what the cluster runs after the scale-up
    assert [a.action.value for a in seen.recent_actions] == ["scale_up"]


def test_restart_sends_an_alert_with_the_seed_fields(make_executor, cluster, clock) -> None:
    source, notifier = ScriptedSource(clock), LogNotifier()
    ex = make_executor(source=source, notifier=notifier)
    evidence = (
        Evidence(kind="error_rate", detail="5xx share", value=0.12),
        Evidence(kind="error_rate_normal", detail="baseline", value=0.01),
        Evidence(kind="memory_usage", detail="working set", value=0.93),
    )
    source.next = [
        decision(
            action="restart",
            current=1,
            target=1,
            confidence=0.95,
            explanation=evidence,
            reason="memory leak suspected",
        )
    ]
    assert ex.tick().acted()
    assert cluster.restarts[CRM] == 1
    (alert,) = notifier.sent
    assert alert.problem == "degradation" and alert.module == CRM
    assert alert.key_metrics == {"error_rate": 0.12, "memory_usage": 0.93}
    assert alert.normal_metrics == {"error_rate": 0.01}
    assert alert.probable_cause == "Não identificada automaticamente"  # no evidence kind says
    assert "reiniciado" in alert.action_taken


def test_rollback_plan_follows_dependency_order() -> None:
    catalog = load_catalog()
    assert rollback_plan(catalog, CRM, RollbackScope.MODULE_ONLY) == (CRM,)
    assert rollback_plan(catalog, CRM, RollbackScope.DEPENDENCY_CHAIN) == (CRM, AG)
    assert rollback_plan(catalog, UM, RollbackScope.DEPENDENCY_CHAIN) == (UM, CRM, AG)
    assert rollback_plan(catalog, AG, RollbackScope.FULL_SYSTEM) == (UM, CRM, AG)


def test_dependency_chain_rollback_runs_in_order(make_executor, clock) -> None:
    cluster = InMemoryCluster({UM: 2, AG: 1, CRM: 1})
    for module in (CRM, AG):
        cluster.deploy(module, "nexus-module:2")
    source = ScriptedSource(clock)
    ex = make_executor(source=source, backend=cluster)
    source.next = [
        decision(action="rollback", confidence=0.95, rollback_scope=RollbackScope.DEPENDENCY_CHAIN)
    ]
    assert ex.tick().acted()
    assert [c for c in cluster.calls if c[0] == "rollback"] == [
        ("rollback", CRM, None),
        ("rollback", AG, None),
    ]
    assert {m: s.image for m, s in cluster.services().items()}[AG] == "nexus-module:1"


class FailingRollback(InMemoryCluster):
    """A cluster whose rollback of one module fails."""

    def __init__(self, fail: str, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fail = fail

    def rollback(self, module: str, *, timeout_s: float = 60.0):  # type: ignore[no-untyped-def]
        if module == self.fail:
            raise ClusterError(f"service {module!r} update paused: task failed")
        return super().rollback(module, timeout_s=timeout_s)


def test_a_failing_rollback_step_stops_the_chain_and_reports(make_executor, clock) -> None:
    cluster = FailingRollback(AG, {UM: 2, AG: 1, CRM: 1})
    for module in (UM, CRM, AG):
        cluster.deploy(module, "nexus-module:2", at=clock.now)
    source, notifier, audit = ScriptedSource(clock), LogNotifier(), MemoryAudit()
    ex = make_executor(source=source, backend=cluster, notifier=notifier, audit=audit)
    source.next = [
        decision(
            module=UM,
            action="rollback",
            confidence=0.95,
            rollback_scope=RollbackScope.FULL_SYSTEM,
        )
    ]
    (outcome,) = ex.tick().outcomes
    assert outcome.reason == "cluster_error" and not outcome.acted
    assert "stopped in FULL_SYSTEM of 'nexus-user-management'" in outcome.detail
    assert "after ['nexus-user-management', 'nexus-crm']" in outcome.detail
    assert [c[1] for c in cluster.calls] == [UM, CRM]
    assert [e.detail for e in audit.entries if e.event == "rollback_step"] == [UM, CRM]
    # the plan was announced before the first step; the failure is a message of its own
    assert [a.problem for a in notifier.sent] == ["failed_release", "cluster_error"]


class CallsAtSend(LogNotifier):
    """Records how many cluster calls had been made when each alert went out."""

    def __init__(self, cluster: InMemoryCluster) -> None:
        super().__init__()
        self.cluster = cluster
        self.calls_at_send: list[int] = []

    def send(self, alert):  # type: ignore[no-untyped-def]
        self.calls_at_send.append(len(self.cluster.calls))
        return super().send(alert)


def test_the_rollback_is_announced_with_its_plan_before_the_cluster_is_touched(
    make_executor, clock
) -> None:
    """The seed's order: detect, analyse, notify, execute, validate."""
    cluster = InMemoryCluster({UM: 2, AG: 1, CRM: 1})
    for module in (CRM, AG):
        cluster.deploy(module, "nexus-module:2", at=clock.now)
    notifier = CallsAtSend(cluster)
    ex = make_executor(source=(source := ScriptedSource(clock)), backend=cluster, notifier=notifier)
    source.next = [
        decision(
            module=CRM,
            action="rollback",
            confidence=0.95,
            rollback_scope=RollbackScope.DEPENDENCY_CHAIN,
        )
    ]
    (outcome,) = ex.tick().outcomes
    assert outcome.acted, outcome.detail
    (announced,) = notifier.sent
    assert notifier.calls_at_send == [0]  # sent before the first cluster call
    assert announced.problem == "failed_release"
    assert announced.action_taken == (
        "Rollback em andamento (DEPENDENCY_CHAIN), nesta ordem: nexus-crm → nexus-agendamento"
    )
    assert len(cluster.calls) == 2
    notify = ex.rollback_runs[-1].stage("notify")
    assert notify is not None and notify.seconds is not None and notify.within


def test_a_chain_leaves_modules_outside_the_release_and_skips_one_just_rolled_back(
    make_executor, clock
) -> None:
    """Release of CRM and Agendamento together; Agendamento's own (narrower) rollback comes
    first in the batch but the chain runs first, and User Management (not released, not in
    the chain) is untouched."""
    from datetime import timedelta

    cluster = InMemoryCluster({UM: 2, AG: 1, CRM: 1})
    cluster.deploy(UM, "nexus-module:2", at=clock.now - timedelta(days=3))  # an old release
    for module in (CRM, AG):
        cluster.deploy(module, "nexus-module:2", at=clock.now - timedelta(minutes=8))
    clock.advance(1)
    source, audit = ScriptedSource(clock), MemoryAudit()
    ex = make_executor(source=source, backend=cluster, audit=audit)
    source.next = [
        decision(module=AG, action="rollback", confidence=0.95, decided_at=clock.now),
        decision(
            module=CRM,
            action="rollback",
            confidence=0.95,
            rollback_scope=RollbackScope.DEPENDENCY_CHAIN,
            decided_at=clock.now,
        ),
    ]
    report = ex.tick()
    assert [(o.module, o.reason) for o in report.outcomes] == [(CRM, "ok"), (AG, "cooldown")]
    assert [c[1] for c in cluster.calls if c[0] == "rollback"] == [CRM, AG]
    run = ex.rollback_runs[-1]
    assert run.rolled_back == [CRM, AG] and run.unchanged == []
    assert {m: s.image for m, s in cluster.services().items()} == {
        UM: "nexus-module:2",
        CRM: "nexus-module:1",
        AG: "nexus-module:1",
    }
    assert run.stage("detect").seconds == 8 * 60 + 1  # release to decision
    assert run.stage("execute").within and run.stage("validate").within
    taken = next(e for e in audit.entries if e.event == "action_taken")
    assert taken.data["rollback"]["stages"]["execute"]["budget_s"] == 420
    table = run.table()
    for stage in ("detect", "analyse", "notify", "execute", "validate"):
        assert stage in table
    assert "OVER" in table  # 481 s to detect against the seed's 30 s
    # the outcome (what the incident report keeps) carries the stages too
    assert "stages detect 481.0/30 s OVER, analyse" in report.outcomes[0].detail


class FakeDatabase:
    def __init__(self) -> None:
        self.since: list[object] = []

    def rollback_since(self, released_at):  # type: ignore[no-untyped-def]
        self.since.append(released_at)
        return "release r7 undone to r6"

    def verify(self) -> list[str]:
        return ["integrity ok"]


def test_full_system_rolls_back_every_released_module_then_the_database_and_validates(
    make_executor, clock
) -> None:
    from datetime import timedelta

    from nexus_ml.execute.rollback_run import RollbackSetup

    cluster = InMemoryCluster({UM: 2, AG: 1, CRM: 1})
    for module in (UM, CRM):
        cluster.deploy(module, "nexus-module:2", at=clock.now)
    db, smoked = FakeDatabase(), []

    def smoke() -> list[str]:
        smoked.append(1)
        return ["smoke ok"]

    ex = make_executor(
        source=(source := ScriptedSource(clock)),
        backend=cluster,
        rollback=RollbackSetup(database=db, smoke=smoke, release_window_s=600),
    )
    source.next = [
        decision(
            module=UM, action="rollback", confidence=0.95, rollback_scope=RollbackScope.FULL_SYSTEM
        )
    ]
    (outcome,) = ex.tick().outcomes
    assert outcome.acted, outcome.detail
    run = ex.rollback_runs[-1]
    assert (run.rolled_back, run.unchanged) == ([UM, CRM], [AG])
    assert db.since == [clock.now - timedelta(seconds=600)]
    assert run.database == "release r7 undone to r6"
    assert run.validation == ["3 service(s) healthy", "integrity ok", "smoke ok"]
    assert smoked == [1]


def test_service_down_holds_alerts_once_and_resumes(make_executor, cluster, clock) -> None:
    from nexus_ml.alerts.grouping import AlertGrouper

    source, audit = ScriptedSource(clock), MemoryAudit()
    notifier = LogNotifier(grouper=AlertGrouper(600, clock=lambda: clock.now.timestamp()))
    ex = make_executor(source=source, audit=audit, notifier=notifier)
    source.next = DecisionServiceError("decision service unavailable after 3 attempts")
    for _ in range(3):
        assert not ex.tick().fetched
        clock.advance(60)
    assert [a.problem for a in notifier.sent] == ["service_down"]  # grouped, not three
    assert [e.event for e in audit.entries].count("fetch_failed") == 3
    source.next = [decision(action="scale_up", current=1, target=2)]
    assert ex.tick().acted()
    assert [a.problem for a in notifier.sent] == ["service_down", "resumed", "demand_high"]
    assert "fetch_resumed" in [e.event for e in audit.entries]


def test_a_service_scaled_by_hand_is_left_alone(make_executor, cluster, clock) -> None:
    source = ScriptedSource(clock)
    ex = make_executor(source=source, guard={"manual_change_hold_s": 300})
    cluster.scale_by_hand(CRM, 2)
    source.next = [decision(action="scale_up", current=2, target=3)]
    assert [o.reason for o in ex.tick().outcomes] == ["manual_change"]
    clock.advance(301)
    assert ex.tick().acted()
    assert cluster.services()[CRM].updated_by_hand is False  # our change stamps it again


def test_preview_mode_changes_nothing(make_executor, cluster, clock) -> None:
    source, audit = ScriptedSource(clock), MemoryAudit()
    ex = make_executor(source=source, audit=audit, guard={"preview": True})
    source.next = [decision(action="scale_up", current=1, target=3)]
    assert [o.reason for o in ex.tick().outcomes] == ["preview"]
    assert cluster.calls == [] and cluster.services()[CRM].replicas == 1
    assert any(e.reason == "preview" and "1 -> 3" in e.detail for e in audit.entries)


def test_a_cluster_error_during_an_action_is_audited_and_alerted(
    make_executor, cluster, clock
) -> None:
    source, audit, notifier = ScriptedSource(clock), MemoryAudit(), LogNotifier()
    ex = make_executor(source=source, audit=audit, notifier=notifier)
    source.next = [decision(action="scale_up", current=1, target=2)]
    original = cluster.scale

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise ClusterError("cannot update service 'nexus-crm': rpc error")

    cluster.scale = broken  # type: ignore[method-assign]
    (outcome,) = ex.tick().outcomes
    cluster.scale = original  # type: ignore[method-assign]
    assert outcome.reason == "cluster_error" and cluster.services()[CRM].replicas == 1
    assert [a.problem for a in notifier.sent] == ["cluster_error"]
    assert any(e.event == "action_failed" and "rpc error" in e.detail for e in audit.entries)
