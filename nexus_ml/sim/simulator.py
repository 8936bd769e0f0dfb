"""The step-wise simulator: metrics of every module at one instant, for live use.

It computes exactly what :func:`~nexus_ml.sim.history.simulate_history` would for the same
seed, instant, replicas and incidents, one instant at a time, and lets incidents be added
while it runs (the live exporter's ``inject``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from nexus_ml.catalog import Catalog
from nexus_ml.domain.metrics import ContainerHealthMetrics
from nexus_ml.features.calendar import LocalCalendar
from nexus_ml.sim.demand import demand_rpm
from nexus_ml.sim.history import effects_for, resolve_incidents
from nexus_ml.sim.incidents import BadRelease, Incident, as_utc
from nexus_ml.sim.metrics import module_metrics
from nexus_ml.sim.noise import NoiseCache
from nexus_ml.sim.traits import ModuleTraits, traits_for


@dataclass(frozen=True)
class ModuleSnapshot:
    """One module at one instant: the metrics plus the ground truth behind them."""

    module: str
    timestamp: datetime
    replicas: int
    demand_rpm: float
    utilisation: float
    cpu_usage: float
    memory_usage: float
    response_time: float
    active_connections: float
    error_rate: float
    disk_usage: float
    network_latency: float
    requests_per_min: float
    link_latency_ms: Mapping[str, float]
    version: str

    def to_metrics(self) -> ContainerHealthMetrics:
        """The observation as the domain type (module level, no container id)."""
        return ContainerHealthMetrics(
            module=self.module,
            timestamp=self.timestamp,
            cpu_usage=self.cpu_usage,
            memory_usage=self.memory_usage,
            response_time=self.response_time,
            active_connections=self.active_connections,
            error_rate=self.error_rate,
            disk_usage=self.disk_usage,
            network_latency=self.network_latency,
            requests_per_min=self.requests_per_min,
        )


class ErpSimulator:
    """Simulated ERP modules, observed one instant at a time.

    Parameters
    ----------
    catalog
        The modules.
    seed
        Noise seed (same as a history's seed gives the same values).
    incidents
        Incidents known from the start; more can be added with :meth:`inject`.
    traits
        Per-module overrides of the workload shape.
    start
        The simulated instant of the first :meth:`step` (naive = UTC; default: now).
    step_s
        How far each :meth:`step` advances the simulated clock, in seconds.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        seed: int = 0,
        incidents: Iterable[Incident] = (),
        traits: Mapping[str, ModuleTraits] | None = None,
        start: datetime | None = None,
        step_s: int = 60,
    ) -> None:
        self.catalog = catalog
        self.start = as_utc(start) if start is not None else datetime.now(UTC)
        self.step_s = step_s
        self._next = self.start
        self.seed = seed
        self._traits = traits
        self._noise = NoiseCache(seed, max_days=4 * len(catalog.modules))
        self._lock = threading.Lock()
        self._incidents = resolve_incidents(catalog, incidents)

    @property
    def incidents(self) -> tuple[Incident, ...]:
        return self._incidents

    def inject(self, incident: Incident) -> Incident:
        """Add an incident (module names may be short); returns it with full names."""
        (resolved,) = resolve_incidents(self.catalog, [incident])
        with self._lock:
            self._incidents = (*self._incidents, resolved)
        return resolved

    def clear(self) -> None:
        """Forget every incident."""
        with self._lock:
            self._incidents = ()

    def version_of(self, module: str, now: datetime) -> str:
        """The version running at ``now``: a bad release's until it is rolled back."""
        name = self.catalog.get(module).name
        at = as_utc(now)
        releases = [
            i
            for i in self._incidents
            if isinstance(i, BadRelease) and i.module == name and as_utc(i.start) <= at
        ]
        if not releases:
            return "1"
        latest = max(releases, key=lambda i: as_utc(i.start))
        return latest.version if at < as_utc(latest.end) else latest.previous_version

    def snapshot(self, now: datetime, replicas: Mapping[str, int]) -> dict[str, ModuleSnapshot]:
        """Every module at ``now`` with the given replica counts (missing → min replicas)."""
        now = as_utc(now)
        t = np.array([int(now.timestamp())], dtype=np.int64)
        cal = LocalCalendar.from_epoch(t)
        incidents = self._incidents
        result: dict[str, ModuleSnapshot] = {}
        for profile in self.catalog:
            count = int(
                replicas.get(profile.name, replicas.get(profile.short_name, profile.min_replicas))
            )
            traits = traits_for(profile.name, self._traits)
            channels, level = self._noise.at(profile.name, int(t[0]))
            noise = channels[:, None]
            effects = effects_for(profile.name, incidents, t)
            demand = (
                demand_rpm(profile, traits, cal, noise, np.array([level])) * effects.demand_factor
            )
            s = module_metrics(
                profile, traits, cal, noise, demand, np.array([float(count)]), effects
            )
            result[profile.name] = ModuleSnapshot(
                module=profile.name,
                timestamp=now,
                replicas=count,
                demand_rpm=float(s.demand_rpm[0]),
                utilisation=float(s.utilisation[0]),
                cpu_usage=float(s.cpu_usage[0]),
                memory_usage=float(s.memory_usage[0]),
                response_time=float(s.response_time[0]),
                active_connections=float(s.active_connections[0]),
                error_rate=float(s.error_rate[0]),
                disk_usage=float(s.disk_usage[0]),
                network_latency=float(s.network_latency[0]),
                requests_per_min=float(s.requests_per_min[0]),
                link_latency_ms={k: float(v[0]) for k, v in s.link_latency_ms.items()},
                version=self.version_of(profile.name, now),
            )
        return result

    @property
    def now(self) -> datetime:
        """The instant the next :meth:`step` observes."""
        return self._next

    def step(self, replicas: Mapping[str, int]) -> dict[str, ModuleSnapshot]:
        """Observe the modules at :attr:`now`, then advance the clock by ``step_s``.

        The loop a closed-loop test or a replay runs: decide replicas, step, repeat.
        """
        snapshot = self.snapshot(self._next, replicas)
        self._next += timedelta(seconds=self.step_s)
        return snapshot

    def observe(
        self, now: datetime, replicas: Mapping[str, int]
    ) -> dict[str, ContainerHealthMetrics]:
        """The health metrics of every module at ``now`` (see :meth:`snapshot`)."""
        return {name: snap.to_metrics() for name, snap in self.snapshot(now, replicas).items()}
