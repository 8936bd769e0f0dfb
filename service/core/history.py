"""What the dashboard shows: a bounded in-memory log of points and decisions, and its broadcaster.

The log is per process and bounded (a day of minutes and a few hundred decisions per module by
default): it is a view for operators, not a store of record. The audit trail stays the record;
the dashboard's sampler joins its outcomes (applied, skipped, failed) onto the markers here.

Every change is published to a :class:`~service.core.broadcast.Broadcaster`, which fans
server-sent events out to the open pages; decisions are recorded in the threads that decide.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from nexus_ml.domain import Action, Decision
from nexus_ml.logs import get_logger
from service.core.broadcast import Broadcaster
from service.core.history_views import forecast_quality, packed

log = get_logger(__name__)

TOP_REASONS = 3
_NUMBERS = re.compile(r"\d+(?:[.,]\d+)*")
# The same advice again (same action, replicas and reasons, not yet applied) within 15 minutes
# of its last repeat is one marker with a count: the snapshot is recomputed every few seconds
# and an executor that holds asks again every tick; an operator wants one mark, not a fence.
_REPEAT_WINDOW_S = 900.0
_MAX_FORECAST = 240  # forecast minutes held per module before past ones are dropped


def _num(value: float | None, digits: int = 1) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)


class Point(NamedTuple):
    """One minute of a module: demand, the band forecast for it, replicas, anomaly score.

    A tuple, so that a day of them turns into columns with one ``zip``.
    """

    t: int
    actual: float | None
    mean: float | None = None
    lo: float | None = None
    hi: float | None = None
    replicas: float | None = None
    capacity: float | None = None
    anomaly: float | None = None


@dataclass
class Marker:
    """A decision or action on the chart (``status``: decided, applied, skipped, failed)."""

    id: int
    module: str
    t: float
    action: str
    confidence: float
    reasons: tuple[str, ...]
    current: int
    target: int
    policy: str
    status: str = "decided"
    status_reason: str = ""
    repeats: int = 1
    last: float = 0.0  # when it was last repeated (0: never)


@dataclass
class AlertNote:
    """A recent alert (from the audit trail)."""

    t: float
    module: str
    problem: str
    detail: str
    sent: bool
    titles: dict[str, str] = field(default_factory=dict)  # the problem in words, per language


@dataclass
class _Track:
    points: deque[Point]
    markers: deque[Marker]
    forecast: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    per_replica: float | None = None  # requests/min one replica serves at target utilisation
    replicas: float | None = None
    anomaly: tuple[float, float] | None = None  # (when, score)


def top_reasons(decision: Decision, limit: int = TOP_REASONS) -> tuple[str, ...]:
    """The first clauses of the decision's reason (the policy joins them with "; "), then
    its evidence details, without repeats."""
    reasons: list[str] = []
    clauses = [c.strip() for c in decision.reason.split("; ")]
    for text in (*clauses, *(e.detail for e in decision.explanation)):
        if text and text not in reasons:
            reasons.append(text)
    return tuple(reasons[:limit])


def _gist(reasons: tuple[str, ...]) -> tuple[str, ...]:
    # the same advice with fresher numbers ("827 rpm" then "877 rpm") is still the same advice
    return tuple(_NUMBERS.sub("#", r) for r in reasons)


def anomaly_value(decision: Decision) -> float | None:
    """The anomaly score the policy saw, when it had one."""
    for evidence in decision.explanation:
        if evidence.kind == "anomaly" and evidence.value is not None:
            return _num(evidence.value, 3)
    return None


class DashboardHistory:
    """Bounded per-module points and decision markers, plus recent alerts.

    Parameters
    ----------
    max_points
        Minutes kept per module (default two days).
    max_markers
        Decision markers kept per module.
    max_alerts
        Recent alerts kept.
    broadcaster
        Where changes are published; a new one when ``None``.
    clock
        Seconds since the epoch (tests pass a fixed one).
    """

    def __init__(
        self,
        *,
        max_points: int = 2880,
        max_markers: int = 500,
        max_alerts: int = 200,
        broadcaster: Broadcaster | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_points = max_points
        self.max_markers = max_markers
        self.broadcaster = broadcaster or Broadcaster()
        self.clock = clock
        self.alerts: deque[AlertNote] = deque(maxlen=max_alerts)
        self.incidents: list[dict[str, Any]] = []
        self._tracks: dict[str, _Track] = {}
        self._lock = threading.RLock()
        self._ids = itertools.count(1)

    # -- writing ----------------------------------------------------------------------------
    def _track(self, module: str) -> _Track:
        track = self._tracks.get(module)
        if track is None:
            track = _Track(deque(maxlen=self.max_points), deque(maxlen=self.max_markers))
            self._tracks[module] = track
        return track

    def set_profile(self, module: str, capacity_rpm_per_replica: float, target: float) -> None:
        """Capacity at target utilisation: replicas × ``capacity_rpm_per_replica`` × ``target``."""
        with self._lock:
            self._track(module).per_replica = capacity_rpm_per_replica * target

    def last_time(self, module: str) -> int | None:
        """The newest point's time (epoch seconds), if any."""
        with self._lock:
            track = self._tracks.get(module)
            return track.points[-1].t if track and track.points else None

    def add_point(
        self, module: str, t: int, actual: float | None, *, replicas: float | None = None
    ) -> Point:
        """Append the minute ``t``; its band is the forecast held for ``t`` before it was seen."""
        with self._lock:
            track = self._track(module)
            if track.points and t <= track.points[-1].t:
                raise ValueError(f"point of {module} at {t} is not after {track.points[-1].t}")
            if replicas is not None:
                track.replicas = replicas
            band = track.forecast.pop(int(t), None)
            if len(track.forecast) > _MAX_FORECAST:  # bands for minutes now past: drop
                for old in [k for k in track.forecast if k < t]:
                    del track.forecast[old]
            anomaly = None
            if track.anomaly is not None and t - track.anomaly[0] < 180:
                anomaly = track.anomaly[1]
            point = Point(
                t=int(t),
                actual=_num(actual),
                mean=_num(band[0]) if band else None,
                lo=_num(band[1]) if band else None,
                hi=_num(band[2]) if band else None,
                replicas=track.replicas,
                capacity=self._capacity(track),
                anomaly=anomaly,
            )
            track.points.append(point)
        self.broadcaster.publish("point", {"module": module, **point._asdict()})
        return point

    @staticmethod
    def _capacity(track: _Track) -> float | None:
        if track.replicas is None or track.per_replica is None:
            return None
        return _num(track.replicas * track.per_replica, 1)

    def set_forecast(
        self,
        module: str,
        times: Sequence[int],
        mean: Sequence[float],
        lo: Sequence[float],
        hi: Sequence[float],
    ) -> None:
        """The newest forecast of ``module`` for the minutes ``times`` (epoch seconds)."""
        band = {
            int(t): (m, low, high)
            for t, m, low, high in zip(times, mean, lo, hi, strict=True)
            if math.isfinite(m) and math.isfinite(low) and math.isfinite(high)
        }
        with self._lock:
            self._track(module).forecast.update(band)
            future = self._future(module)
        self.broadcaster.publish("forecast", {"module": module, **future})

    def record_decision(self, decision: Decision) -> Marker | None:
        """Keep ``decision``: replicas and anomaly always, a marker when it is not a hold."""
        at = decision.decided_at.timestamp() if decision.decided_at else self.clock()
        with self._lock:
            track = self._track(decision.module)
            track.replicas = float(decision.current_replicas)
            score = anomaly_value(decision)
            if score is not None:
                track.anomaly = (at, score)
            if decision.action is Action.HOLD and not decision.alert_admin:
                return None
            marker = self._merge_repeat(track, decision, at)
            if marker is None:
                marker = Marker(
                    id=next(self._ids),
                    module=decision.module,
                    t=round(at, 3),
                    action=decision.action.value,
                    confidence=round(decision.confidence, 3),
                    reasons=top_reasons(decision),
                    current=decision.current_replicas,
                    target=decision.target_replicas,
                    policy=decision.policy,
                )
                track.markers.append(marker)
        self.broadcaster.publish("decision", asdict(marker))
        return marker

    @staticmethod
    def _merge_repeat(track: _Track, decision: Decision, at: float) -> Marker | None:
        if not track.markers:
            return None
        last = track.markers[-1]
        reasons = top_reasons(decision)
        same = (last.action, last.current, last.target, _gist(last.reasons)) == (
            decision.action.value,
            decision.current_replicas,
            decision.target_replicas,
            _gist(reasons),
        )
        recent = 0 <= at - max(last.t, last.last) < _REPEAT_WINDOW_S
        if same and recent and last.status in ("decided", "skipped"):
            last.repeats += 1
            last.last = round(at, 3)
            last.reasons, last.confidence = reasons, round(decision.confidence, 3)  # the newest
            return last
        return None

    def mark_outcome(
        self, module: str, action: str, at: float, status: str, reason: str = ""
    ) -> Marker:
        """Join the executor's outcome to the newest matching decision (or add a marker)."""
        with self._lock:
            track = self._track(module)
            found = next(
                (
                    m
                    for m in reversed(track.markers)
                    if m.action == action
                    and m.status in ("decided", "skipped")
                    and m.t - 1 <= at < max(m.t, m.last) + 600
                ),
                None,
            )
            if found is None:  # decided by another replica of the service, or before it started
                found = Marker(next(self._ids), module, round(at, 3), action, 0.0, (), 0, 0, "")
                track.markers.append(found)
            found.status, found.status_reason = status, reason
        self.broadcaster.publish("decision", asdict(found))
        return found

    def add_alert(self, note: AlertNote) -> None:
        with self._lock:
            self.alerts.append(note)
        self.broadcaster.publish("alert", asdict(note))

    def set_incidents(self, incidents: list[dict[str, Any]]) -> None:
        with self._lock:
            changed = incidents != self.incidents
            self.incidents = incidents
        if changed:
            self.broadcaster.publish("incidents", {"incidents": incidents})

    # -- reading ----------------------------------------------------------------------------
    def modules(self) -> list[str]:
        with self._lock:
            return list(self._tracks)

    def markers(self, module: str) -> list[Marker]:
        with self._lock:
            track = self._tracks.get(module)
            return list(track.markers) if track else []

    def latest(self, module: str) -> dict[str, float | None]:
        """The module's newest replicas, capacity at target utilisation and anomaly score."""
        with self._lock:
            track = self._tracks.get(module)
            if track is None:
                return {"replicas": None, "capacity": None, "anomaly": None}
            anomaly = track.anomaly[1] if track.anomaly else None
            return {
                "replicas": track.replicas,
                "capacity": self._capacity(track),
                "anomaly": anomaly,
            }

    def _future(self, module: str) -> dict[str, list[Any]]:
        track = self._tracks[module]
        last = track.points[-1].t if track.points else None
        keys = sorted(k for k in track.forecast if last is None or k > last)
        return {
            "t": keys,
            "mean": [_num(track.forecast[k][0]) for k in keys],
            "lo": [_num(track.forecast[k][1]) for k in keys],
            "hi": [_num(track.forecast[k][2]) for k in keys],
        }

    def quality(self, module: str, hours: float = 24.0) -> dict[str, float | int | None]:
        """Rolling 80 % coverage and MAPE (percent) over the last ``hours`` with a band."""
        with self._lock:
            track = self._tracks.get(module)
            points = list(track.points) if track else []
        return forecast_quality(points, hours)

    def module_state(self, module: str, since: float | None = None) -> dict[str, Any]:
        """Columns of ``module`` (uPlot's layout) from ``since`` on, with markers and quality."""
        with self._lock:
            track = self._track(module)
            points = list(track.points)
            markers = [asdict(m) for m in track.markers if since is None or m.t >= since]
            future = self._future(module)
            per_replica = track.per_replica
        quality = forecast_quality(points)
        if since is not None:
            points = points[bisect_left(points, since, key=lambda p: p.t) :]
        values = list(zip(*points, strict=True)) or [()] * len(Point._fields)
        columns = {name: list(column) for name, column in zip(Point._fields, values, strict=True)}
        return {
            "module": module,
            "per_replica": per_replica,
            "series": columns,
            "future": future,
            "markers": markers,
            "quality": quality,
        }

    def state(self, since: float | None = None) -> dict[str, Any]:
        """Everything the page draws at load, its columns packed (see :func:`packed`).

        ``event_id`` is the newest event before the state was read: a page subscribing from
        it misses nothing (what is in both arrives twice, which the page takes in its stride).
        """
        event_id = self.broadcaster.last_id
        with self._lock:
            alerts = [asdict(a) for a in self.alerts]
            incidents = list(self.incidents)
        return {
            "generated_at": self.clock(),
            "event_id": event_id,
            "modules": [packed(self.module_state(m, since)) for m in self.modules()],
            "alerts": alerts,
            "incidents": incidents,
        }


def epoch(moment: datetime) -> int:
    """Whole seconds since the epoch of an aware datetime."""
    return int(moment.timestamp())
