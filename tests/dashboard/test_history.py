"""The dashboard's history: bounded, repeats merged, outcomes joined, quality by definition."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from nexus_ml.domain import Action, Decision, Evidence
from service.core.broadcast import Broadcaster
from service.core.history import DashboardHistory, forecast_quality

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _scale_up(at: datetime, current: int = 1, target: int = 3, why: str = "peak") -> Decision:
    return Decision(
        module="nexus-crm",
        action=Action.SCALE_UP,
        current_replicas=current,
        target_replicas=target,
        scale_up=True,
        reason=f"forecast {why} above capacity",
        confidence=0.83,
        explanation=(
            Evidence(kind="forecast_peak", detail="peak 410 rpm in 4 min", value=410.0),
            Evidence(kind="anomaly", detail="anomaly scores: cpu_usage 0.72", value=0.72),
            Evidence(kind="freshness", detail="newest metric age 20 s"),
            Evidence(kind="guard", detail="within max replicas"),
        ),
        decided_at=at,
    )


def test_points_are_bounded_and_take_the_band_held_for_their_minute() -> None:
    history = DashboardHistory(max_points=5)
    history.set_profile("nexus-crm", 60, 0.7)
    start = int(T0.timestamp())
    history.set_forecast(
        "nexus-crm", [start + 60 * k for k in range(8)], [100.0] * 8, [90.0] * 8, [110.0] * 8
    )
    for k in range(8):
        history.add_point("nexus-crm", start + 60 * k, 100.0 + k, replicas=2)
    series = history.module_state("nexus-crm")["series"]
    assert series["t"] == [start + 60 * k for k in range(3, 8)]
    assert series["lo"] == [90.0] * 5 and series["hi"] == [110.0] * 5
    assert series["capacity"] == [2 * 60 * 0.7] * 5
    with pytest.raises(ValueError, match="not after"):
        history.add_point("nexus-crm", start, 1.0)


def test_a_hold_is_no_marker_but_sets_replicas_and_anomaly() -> None:
    history = DashboardHistory()
    hold = Decision(
        module="nexus-crm",
        current_replicas=3,
        target_replicas=3,
        confidence=0.9,
        explanation=(Evidence(kind="anomaly", detail="scores", value=0.31),),
        decided_at=T0,
    )
    assert history.record_decision(hold) is None
    assert history.markers("nexus-crm") == []
    point = history.add_point("nexus-crm", int(T0.timestamp()) + 60, 120.0)
    assert (point.replicas, point.anomaly) == (3.0, 0.31)


def test_the_same_advice_again_is_one_marker_with_a_count() -> None:
    history = DashboardHistory()
    first = history.record_decision(_scale_up(T0))
    again = history.record_decision(_scale_up(T0 + timedelta(seconds=5)))
    assert first is not None and again is first and first.repeats == 2
    other = history.record_decision(_scale_up(T0 + timedelta(seconds=10), current=2))
    again = history.record_decision(_scale_up(T0 + timedelta(minutes=10), current=2))
    later = history.record_decision(_scale_up(T0 + timedelta(minutes=26), current=2))
    assert other is not None and again is other and other.repeats == 2
    assert later is not None and later is not other  # more than 15 min after its last repeat
    applied = history.mark_outcome("nexus-crm", "scale_up", later.t + 3, "applied")
    assert applied is later
    after = history.record_decision(_scale_up(T0 + timedelta(minutes=27), current=2))
    assert after is not later  # an applied action is an event of its own
    assert len(history.markers("nexus-crm")) == 4
    assert first.reasons == (
        "forecast peak above capacity",
        "peak 410 rpm in 4 min",
        "anomaly scores: cpu_usage 0.72",
    )
    assert first.confidence == 0.83


def test_outcomes_join_the_newest_matching_decision() -> None:
    history = DashboardHistory()
    older = history.record_decision(_scale_up(T0, why="a"))
    newer = history.record_decision(_scale_up(T0 + timedelta(minutes=1), why="b"))
    assert older is not None and newer is not None
    at = (T0 + timedelta(minutes=1, seconds=3)).timestamp()
    joined = history.mark_outcome("nexus-crm", "scale_up", at, "skipped", "cooldown")
    assert joined is newer and (newer.status, newer.status_reason) == ("skipped", "cooldown")
    assert older.status == "decided"
    # an outcome with no decision in this process (another replica decided) is its own marker
    orphan = history.mark_outcome("nexus-crm", "restart", at, "applied")
    assert orphan.action == "restart" and len(history.markers("nexus-crm")) == 3


def test_quality_matches_its_definition() -> None:
    rng = np.random.default_rng(3)
    history = DashboardHistory()
    start = int(T0.timestamp())
    rows: list[tuple[int, float, float]] = []
    for k in range(2000):  # more than a day: only the last 24 h count
        t = start + 60 * k
        mean = 100 + 10 * np.sin(k / 50)
        actual = float(mean + rng.normal(0, 8))
        history.set_forecast("m", [t], [mean], [mean - 10], [mean + 10])
        history.add_point("m", t, actual)
        rows.append((t, actual, mean))
    held = history.module_state("m")["series"]  # as kept (one decimal)
    last = rows[-1][0]
    day = [
        (t, a, m, lo, hi)
        for t, a, m, lo, hi in zip(
            *(held[k] for k in ("t", "actual", "mean", "lo", "hi")), strict=True
        )
        if t > last - 86400
    ]
    inside = np.mean([lo <= a <= hi for _, a, _, lo, hi in day])
    mape = 100 * np.mean([abs(a - m) / abs(a) for _, a, m, _, _ in day])
    quality = history.quality("m")
    assert quality["n"] == len(day) == 1440
    assert quality["coverage"] == pytest.approx(inside, abs=1e-4)
    assert quality["mape"] == pytest.approx(mape, abs=0.01)
    assert forecast_quality([]) == {"coverage": None, "mape": None, "n": 0}


def test_broadcast_reaches_subscribers_from_other_threads_and_drops_laggards() -> None:
    async def scenario() -> tuple[list[str], str | None]:
        broadcaster = Broadcaster(max_queue=3)
        queue = broadcaster.subscribe()
        publisher = threading.Thread(
            target=lambda: [broadcaster.publish("decision", {"n": n}) for n in range(2)]
        )
        publisher.start()
        publisher.join()
        frames = [await asyncio.wait_for(queue.get(), 2) for _ in range(2)]
        broadcaster.unsubscribe(queue)
        slow = broadcaster.subscribe()
        for n in range(5):
            broadcaster.publish("point", {"n": n})
        await asyncio.sleep(0.05)
        drained = [slow.get_nowait() for _ in range(slow.qsize())]
        assert broadcaster.subscribers == 0  # the laggard was dropped
        return [str(f) for f in frames], drained[-1]

    frames, last = asyncio.run(scenario())
    assert [json.loads(f.split("data: ")[1]) for f in frames] == [{"n": 0}, {"n": 1}]
    assert "event: decision" in frames[0]
    assert last is None  # a dropped page is told to reconnect


def test_fresher_numbers_are_the_same_advice_and_the_reason_is_split_into_clauses() -> None:
    history = DashboardHistory()

    def alert(at: datetime, rpm: int, confidence: float) -> Decision:
        return Decision(
            module="nexus-crm",
            action=Action.ALERT,
            current_replicas=4,
            target_replicas=4,
            alert_admin=True,
            reason=f"overload needs 7 replicas; at its maximum of 4: {rpm} rpm against 560 rpm",
            confidence=confidence,
            decided_at=at,
        )

    first = history.record_decision(alert(T0, 827, 0.9))
    second = history.record_decision(alert(T0 + timedelta(minutes=5), 877, 0.92))
    assert first is not None and second is first and first.repeats == 2
    assert first.reasons == (
        "overload needs 7 replicas",
        "at its maximum of 4: 877 rpm against 560 rpm",
    )
    assert first.confidence == 0.92 and first.last == (T0 + timedelta(minutes=5)).timestamp()


def test_a_late_or_returning_subscriber_gets_what_it_missed_or_a_reset() -> None:
    async def scenario() -> dict[str, list[str | None]]:
        broadcaster = Broadcaster(keep=3)
        start = broadcaster.last_id
        broadcaster.publish("point", {"n": 1})
        broadcaster.publish("point", {"n": 2})
        got = {"late": _drain(broadcaster.subscribe(start))}
        broadcaster.publish("point", {"n": 3})
        broadcaster.publish("point", {"n": 4})  # 1 is no longer kept
        got["too old"] = _drain(broadcaster.subscribe(start))
        got["other process"] = _drain(broadcaster.subscribe("cafe0000-2"))
        got["up to date"] = _drain(broadcaster.subscribe(broadcaster.last_id))
        return got

    got = asyncio.run(scenario())
    assert [json.loads(str(f).split("data: ")[1]) for f in got["late"]] == [{"n": 1}, {"n": 2}]
    assert got["too old"] == got["other process"] == ["event: reset\ndata: {}\n\n"]
    assert got["up to date"] == []


def _drain(queue: asyncio.Queue[str | None]) -> list[str | None]:
    return [queue.get_nowait() for _ in range(queue.qsize())]
