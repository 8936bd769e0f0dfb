"""The executor's two helpers on their own: carrying out a verdict, and recording."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from nexus_ml.alerts.notifier import Alert, AlertDeliveryError
from nexus_ml.catalog import load_catalog
from nexus_ml.domain.decision import Action
from nexus_ml.domain.rollback import RollbackScope
from nexus_ml.errors import ClusterError
from nexus_ml.execute.actions import apply_verdict, rollback_plan
from nexus_ml.execute.audit import AuditEntry, MemoryAudit
from nexus_ml.execute.guardrails import Verdict
from nexus_ml.execute.memory import InMemoryCluster
from nexus_ml.execute.recorder import Recorder

from .conftest import CRM, decision

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
UM = "nexus-user-management"


def _ok(action: Action, target: int | None = None) -> Verdict:
    return Verdict(True, action, CRM, "ok", "allowed", target)


def test_scale_and_restart_say_what_they_did() -> None:
    catalog, cluster = load_catalog(), InMemoryCluster({CRM: 2})
    state = cluster.services()[CRM]
    up = apply_verdict(
        cluster,
        catalog,
        decision(action="scale_up", current=2, target=4),
        _ok(Action.SCALE_UP, 4),
        state,
        timeout_s=1,
        language="en",
    )
    assert up.taken == "Replicas raised from 2 to 4" and up.modules == (CRM,)
    assert cluster.services()[CRM].replicas == 4
    restarted = apply_verdict(
        cluster,
        catalog,
        decision(action="restart", current=4, target=4),
        _ok(Action.RESTART),
        cluster.services()[CRM],
        timeout_s=1,
        language="en",
    )
    assert restarted.taken == "Service restarted (force update)"
    assert cluster.restarts[CRM] == 1


class _FailsOn(InMemoryCluster):
    def __init__(self, modules: dict[str, int], broken: str) -> None:
        super().__init__(modules)
        self.broken = broken

    def rollback(self, module: str, *, timeout_s: float = 60.0):  # type: ignore[no-untyped-def]
        if module == self.broken:
            raise ClusterError(f"{module} is stuck")
        return super().rollback(module, timeout_s=timeout_s)


def test_a_rollback_chain_reports_each_step_and_where_it_stopped() -> None:
    catalog = load_catalog()
    plan = rollback_plan(catalog, UM, RollbackScope.DEPENDENCY_CHAIN)
    assert plan[0] == UM and len(plan) >= 2  # user management is used by the others
    cluster = _FailsOn(dict.fromkeys(plan, 1), broken=plan[1])
    for module in plan:
        cluster.deploy(module, "nexus-module:2")
    steps: list[str] = []
    chain = decision(module=UM, action="rollback", rollback_scope=RollbackScope.DEPENDENCY_CHAIN)
    with pytest.raises(ClusterError, match=rf"stopped at '{plan[1]}' after \['{UM}'\]"):
        apply_verdict(
            cluster,
            catalog,
            chain,
            Verdict(True, Action.ROLLBACK, UM, "ok"),
            cluster.services()[UM],
            timeout_s=1,
            language="en",
            on_rollback_step=steps.append,
        )
    assert steps == [UM]
    assert cluster.services()[UM].image == "nexus-module:1"


class _Notifier:
    def __init__(self, result: bool | Exception) -> None:
        self.result = result
        self.sent: list[Alert] = []

    def send(self, alert: Alert) -> bool:
        if isinstance(self.result, Exception):
            raise self.result
        self.sent.append(alert)
        return self.result


def _recorder(
    notifier: _Notifier, audit: MemoryAudit | None = None
) -> tuple[Recorder, MemoryAudit]:
    audit = audit or MemoryAudit()
    return Recorder(audit, notifier, executor_id="test:1", language="en"), audit


def test_alerts_are_audited_as_sent_grouped_or_failed() -> None:
    for result, event in (
        (True, "alert_sent"),
        (False, "alert_grouped"),
        (AlertDeliveryError("telegram down"), "alert_failed"),
    ):
        recorder, audit = _recorder(_Notifier(result))
        recorder.alert_decision(NOW, decision(action="alert"), "degradation", "held")
        (entry,) = audit.entries
        assert (entry.event, entry.module, entry.reason, entry.executor) == (
            event,
            CRM,
            "degradation",
            "test:1",
        )
        assert entry.detail == ("telegram down" if event == "alert_failed" else "held")


def test_an_audit_outage_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(MemoryAudit):
        def write(self, entry: AuditEntry) -> None:
            raise OSError("disk full")

    recorder, _ = _recorder(_Notifier(True), Broken())
    recorder.audit(NOW, "action_taken", decision(action="scale_up", target=2), reason="ok")
    assert "executor.audit_write_failed audit_event=action_taken module=nexus-crm" in caplog.text
