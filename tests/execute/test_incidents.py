"""The executor's incident hook: the loop never waits on collection; a full queue drops, counted."""

from __future__ import annotations

import threading
from datetime import timedelta

from nexus_ml.crisis.triggers import CrisisEvent
from nexus_ml.domain.decision import Evidence
from nexus_ml.execute.incidents import IncidentHook
from tests.execute.conftest import CRM, T0, ScriptedSource, decision


class SlowHandler:
    """Blocks every event until released, recording what it saw."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.seen: list[CrisisEvent] = []

    def handle(self, event: CrisisEvent) -> None:
        self.release.wait(10)
        self.seen.append(event)


def test_a_stuck_handler_never_blocks_submit_and_overflow_is_dropped_and_counted() -> None:
    handler = SlowHandler()
    hook = IncidentHook(handler, maxsize=3)
    events = [
        CrisisEvent(at=T0 + timedelta(minutes=i), module=CRM, source="test") for i in range(10)
    ]
    accepted = [hook.put(e) for e in events]  # the worker holds one; three wait in the queue
    assert accepted.count(False) == hook.dropped >= 6
    handler.release.set()
    assert hook.drain(10)
    assert len(handler.seen) == accepted.count(True)
    assert [e.at for e in handler.seen] == sorted(e.at for e in handler.seen)  # in order
    hook.stop()


def test_the_executor_submits_one_classified_event_per_handled_decision(
    make_executor, clock
) -> None:
    handler = SlowHandler()
    handler.release.set()
    hook = IncidentHook(handler)
    source = ScriptedSource(clock)
    executor = make_executor(source=source, incidents=hook)
    canary = Evidence(kind="canary", detail="canary score 97: regression in error_rate 0.01 → 0.2")
    source.next = [
        decision(CRM, "rollback", reason="failed release", explanation=(canary,)),
        decision("nexus-agendamento", "hold"),
    ]
    report = executor.tick()
    assert hook.drain(10)
    assert len(report.outcomes) == 2 == len(handler.seen)
    rollback, hold = handler.seen
    assert rollback.module == CRM and rollback.is_crisis and rollback.error_type == "ERROR_BURST"
    assert rollback.severity is not None and rollback.severity.value == "CRITICAL"
    assert rollback.image == "nexus-module:1"  # the image the executor saw before acting
    assert not hold.is_crisis
    hook.stop()


def test_alerts_below_high_and_scaling_are_not_crises(make_executor, clock) -> None:
    handler = SlowHandler()
    handler.release.set()
    hook = IncidentHook(handler)
    source = ScriptedSource(clock)
    executor = make_executor(source=source, incidents=hook)
    source.next = [
        decision(CRM, "alert", alert_admin=False),
        decision("nexus-agendamento", "alert", alert_admin=True),
        decision("nexus-user-management", "scale_up", current=2, target=3),
    ]
    executor.tick()
    assert hook.drain(10)
    crisis = {e.module: e.is_crisis for e in handler.seen}
    assert crisis == {CRM: False, "nexus-agendamento": True, "nexus-user-management": False}
    hook.stop()


def test_only_a_canary_regression_is_a_failed_release() -> None:
    from nexus_ml.crisis.triggers import outcome_event

    fine = Evidence(kind="canary", detail="canary score 12: no regression")
    slow = Evidence(kind="canary", detail="canary score 91: regression in response_time 300 → 900")
    errors = Evidence(kind="canary", detail="canary score 95: regression in error_rate 0.01 → 0.2")
    after_ok = outcome_event(T0, decision(CRM, "hold", explanation=(fine,)), acted=False,
                             reason="hold")  # fmt: skip
    assert not after_ok.is_crisis
    for evidence, kind in ((slow, "PERFORMANCE_DEGRADATION"), (errors, "ERROR_BURST")):
        event = outcome_event(T0, decision(CRM, "hold", explanation=(evidence,)), acted=False,
                              reason="hold")  # fmt: skip
        assert event.is_crisis and event.error_type == kind
        assert event.severity is not None and event.severity.value == "CRITICAL"


def test_a_scale_up_that_also_calls_an_admin_is_a_crisis() -> None:
    from nexus_ml.crisis.triggers import outcome_event

    at_max = decision(CRM, "scale_up", current=2, target=3, alert_admin=True)
    event = outcome_event(T0, at_max, acted=True, reason="ok")
    assert event.is_crisis and event.severity is not None and event.severity.value == "HIGH"
