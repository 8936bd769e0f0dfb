"""Injectable incidents: what goes wrong, where, when and how badly.

An incident is data (module, start, duration, magnitude); :meth:`Incident.apply` writes its
effect on a module's :class:`Effects` for the instants in its window. The metric model
(:mod:`nexus_ml.sim.metrics`) then turns effects into metrics, so each incident moves exactly
the metrics a real one would.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from nexus_ml.durations import parse_duration
from nexus_ml.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class Effects:
    """Per-instant modifiers of one module's behaviour (neutral by default)."""

    n: int
    demand_factor: FloatArray = field(init=False)
    latency_factor: FloatArray = field(init=False)
    error_extra: FloatArray = field(init=False)
    memory_extra: FloatArray = field(init=False)
    link_extra_ms: dict[str, FloatArray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.demand_factor = np.ones(self.n)
        self.latency_factor = np.ones(self.n)
        self.error_extra = np.zeros(self.n)
        self.memory_extra = np.zeros(self.n)

    def link(self, target: str) -> FloatArray:
        """The extra latency array of the call link to ``target`` (created on first use)."""
        if target not in self.link_extra_ms:
            self.link_extra_ms[target] = np.zeros(self.n)
        return self.link_extra_ms[target]


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, kw_only=True)
class Incident:
    """Something going wrong in ``module`` from ``start`` for ``duration``.

    ``magnitude``'s unit depends on the kind (see each subclass).
    """

    kind: ClassVar[str] = "incident"
    module: str
    start: datetime
    duration: timedelta
    magnitude: float

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise InputError(f"{self.kind}: duration must be positive, got {self.duration}")
        if not np.isfinite(self.magnitude) or self.magnitude < 0:
            raise InputError(f"{self.kind}: magnitude must be ≥ 0, got {self.magnitude!r}")

    @property
    def end(self) -> datetime:
        return self.start + self.duration

    def progress(self, t: IntArray) -> FloatArray:
        """Fraction of the window elapsed at epoch seconds ``t``; NaN outside the window."""
        start = as_utc(self.start).timestamp()
        p = (np.asarray(t, dtype=np.float64) - start) / self.duration.total_seconds()
        return np.where((p >= 0.0) & (p < 1.0), p, np.nan)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether the incident's window intersects ``[start, end)``."""
        return as_utc(self.start) < as_utc(end) and as_utc(self.end) > as_utc(start)

    def apply(self, effects: Effects, t: IntArray) -> None:
        """Add this incident's effect at epoch seconds ``t`` to ``effects``."""
        p = self.progress(t)
        active = ~np.isnan(p)
        if active.any():
            self._apply(effects, active, p[active])

    def _apply(self, effects: Effects, active: npt.NDArray[np.bool_], p: FloatArray) -> None:
        raise NotImplementedError


@dataclass(frozen=True, kw_only=True)
class MemoryLeak(Incident):
    """Memory grows linearly by ``magnitude`` (fraction of the limit) over the window.

    At the end the container is restarted (or killed by the OOM killer) and memory drops back.
    """

    kind: ClassVar[str] = "memory_leak"

    def _apply(self, effects: Effects, active: npt.NDArray[np.bool_], p: FloatArray) -> None:
        effects.memory_extra[active] += self.magnitude * p


@dataclass(frozen=True, kw_only=True)
class LatencyDegradation(Incident):
    """Response time creeps up (×(1 + magnitude) at the end), errors follow, then a crash.

    The last ``crash_fraction`` of the window is the crash itself: nearly every request fails.
    """

    kind: ClassVar[str] = "latency_degradation"
    crash_fraction: float = 0.05

    def _apply(self, effects: Effects, active: npt.NDArray[np.bool_], p: FloatArray) -> None:
        effects.latency_factor[active] *= 1.0 + self.magnitude * p**2
        crashed = p >= 1.0 - self.crash_fraction
        errors = np.where(crashed, 1.0, 0.02 * self.magnitude * p**3)
        effects.error_extra[active] += errors


@dataclass(frozen=True, kw_only=True)
class ErrorBurst(Incident):
    """``magnitude`` (a fraction) of requests fail during the window."""

    kind: ClassVar[str] = "error_burst"

    def _apply(self, effects: Effects, active: npt.NDArray[np.bool_], p: FloatArray) -> None:
        effects.error_extra[active] += self.magnitude


@dataclass(frozen=True, kw_only=True)
class BadRelease(Incident):
    """Version ``version`` is deployed at ``start`` and is worse until rolled back at ``end``.

    Latency steps up by ×(1 + magnitude) and the error rate by ``0.05 × magnitude``.
    """

    kind: ClassVar[str] = "bad_release"
    version: str = "2"
    previous_version: str = "1"

    def _apply(self, effects: Effects, active: npt.NDArray[np.bool_], p: FloatArray) -> None:
        effects.latency_factor[active] *= 1.0 + self.magnitude
        effects.error_extra[active] += 0.05 * self.magnitude


@dataclass(frozen=True, kw_only=True)
class SlowDependency(Incident):
    """Calls from ``module`` to ``target`` take ``magnitude`` extra milliseconds."""

    kind: ClassVar[str] = "slow_dependency"
    target: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.target:
            raise InputError(f"{self.kind}: a target module is required")

    def _apply(self, effects: Effects, active: npt.NDArray[np.bool_], p: FloatArray) -> None:
        effects.link(self.target)[active] += self.magnitude


@dataclass(frozen=True, kw_only=True)
class DemandSurge(Incident):
    """Demand rises by ×(1 + magnitude), ramping in and out over a tenth of the window."""

    kind: ClassVar[str] = "demand_surge"

    def _apply(self, effects: Effects, active: npt.NDArray[np.bool_], p: FloatArray) -> None:
        ramp = np.clip(np.minimum(p, 1.0 - p) / 0.1, 0.0, 1.0)
        effects.demand_factor[active] *= 1.0 + self.magnitude * ramp


INCIDENT_KINDS: Mapping[str, type[Incident]] = {
    cls.kind: cls
    for cls in (MemoryLeak, LatencyDegradation, ErrorBurst, BadRelease, SlowDependency, DemandSurge)
}


def parse_incident(spec: str) -> Incident:
    """An incident from ``kind=…,module=…,start=…,duration=…,magnitude=…[,target=…]``.

    ``start`` is ISO 8601 (naive = UTC); ``duration`` as in :func:`parse_duration`.

    Raises
    ------
    InputError
        Quoting the bad part of ``spec``.
    """
    parts: dict[str, str] = {}
    for item in spec.split(","):
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"incident {spec!r}: expected key=value, got {item!r}")
        parts[key.strip()] = value.strip()
    kind = parts.pop("kind", "")
    if kind not in INCIDENT_KINDS:
        known = ", ".join(INCIDENT_KINDS)
        raise InputError(f"incident {spec!r}: unknown kind {kind!r}; known: {known}")
    cls = INCIDENT_KINDS[kind]
    # Text fields come straight from the spec; numbers and times are parsed below.
    allowed = {f.name for f in fields(cls)} & {"module", "target", "version", "previous_version"}
    unknown = set(parts) - allowed - {"start", "duration", "magnitude"}
    if unknown:
        raise InputError(f"incident {spec!r}: unknown field(s) {', '.join(sorted(unknown))}")
    missing = {"module", "start", "duration", "magnitude"} - set(parts)
    if missing:
        raise InputError(f"incident {spec!r}: missing field(s) {', '.join(sorted(missing))}")
    try:
        start = datetime.fromisoformat(parts.pop("start"))
        magnitude = float(parts.pop("magnitude"))
    except ValueError as exc:
        raise InputError(f"incident {spec!r}: {exc}") from exc
    duration = parse_duration(parts.pop("duration"))
    return cls(start=start, duration=duration, magnitude=magnitude, **parts)
