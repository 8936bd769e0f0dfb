"""Swarm's verdict on an update, read from ``docker service inspect`` (pure part)."""

from __future__ import annotations

from typing import Any

import pytest

from nexus_ml.deploy.watch import status_from_inspect, wait_for_release


def inspect(state: str | None, message: str = "") -> dict[str, Any]:
    doc: dict[str, Any] = {"ID": "x1", "Spec": {"Name": "erp_nexus-crm"}}
    if state is not None:
        doc["UpdateStatus"] = {"State": state, "Message": message}
    return doc


@pytest.mark.parametrize(
    ("state", "failed", "settled"),
    [
        (None, False, True),
        ("updating", False, False),
        ("completed", False, True),
        ("paused", True, True),
        ("rollback_started", True, False),
        ("rollback_completed", True, True),
        ("rollback_paused", True, True),
    ],
)
def test_rollback_states_are_failed_releases(
    state: str | None, failed: bool, settled: bool
) -> None:
    status = status_from_inspect(inspect(state, "update rolled back"))
    assert status.service == "erp_nexus-crm" and status.state == state
    assert status.failed is failed and status.settled is settled
    assert status.succeeded is (state == "completed")


class FakeClient:
    """Answers a scripted sequence of inspect documents, like a Swarm converging."""

    def __init__(self, states: list[str]) -> None:
        self.states = states
        self.api = self

    def inspect_service(self, name: str) -> dict[str, Any]:
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return inspect(state)


def test_wait_polls_until_swarm_settles() -> None:
    client = FakeClient(["updating", "updating", "rollback_started", "rollback_completed"])
    naps: list[float] = []
    status = wait_for_release("erp_nexus-crm", timeout_s=60, client=client, sleep=naps.append)
    assert status.state == "rollback_completed" and status.failed
    assert len(naps) == 3


def test_wait_returns_the_unsettled_status_at_the_deadline() -> None:
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    status = wait_for_release(
        "s", timeout_s=2, client=FakeClient(["updating"]), clock=lambda: now[0], sleep=sleep
    )
    assert status.state == "updating" and not status.settled and now[0] >= 2
