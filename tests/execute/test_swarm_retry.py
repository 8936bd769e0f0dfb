"""The Swarm backend's conflict retry, without an Engine: how often, how far apart, what is raised.

The real conflict (a concurrent change recognised by status) is in ``test_swarm.py``; here each
attempt is replaced so the policy itself can be checked quickly and without sleeping.
"""

from __future__ import annotations

import pytest

from nexus_ml.errors import ClusterError
from nexus_ml.execute.swarm import SwarmBackend, _LostRace


def backend(outcomes: list[Exception | None]) -> tuple[SwarmBackend, list[float], list[str]]:
    sleeps: list[float] = []
    calls: list[str] = []
    b = SwarmBackend(None, name_prefix="t-", poll_s=0.2, sleep=sleeps.append)  # type: ignore[arg-type]

    def attempt(module: str, mutate: object, rollback: bool) -> None:
        calls.append(module)
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    b._post_change = attempt  # type: ignore[method-assign]
    return b, sleeps, calls


def test_a_lost_race_is_tried_again_after_the_poll_interval() -> None:
    b, sleeps, calls = backend([_LostRace(ClusterError("out of sequence")), None])
    b._change("crm", None)
    assert calls == ["crm", "crm"] and sleeps == [0.2]


def test_three_lost_races_raise_the_engine_error_itself() -> None:
    last = ClusterError("update out of sequence (3)")
    b, sleeps, calls = backend(
        [_LostRace(ClusterError("1")), _LostRace(ClusterError("2")), _LostRace(last)]
    )
    with pytest.raises(ClusterError) as err:
        b._change("crm", None)
    assert err.value is last and not isinstance(err.value, _LostRace)
    assert len(calls) == 3 and sleeps == [0.2, 0.2]


def test_another_error_is_raised_at_once() -> None:
    refused = ClusterError("cannot update service: invalid image")
    b, sleeps, calls = backend([refused])
    with pytest.raises(ClusterError) as err:
        b._change("crm", None)
    assert err.value is refused and len(calls) == 1 and sleeps == []
