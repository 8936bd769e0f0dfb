"""From demand and replicas to the metrics a real deployment reports.

Utilisation ``u = demand / (replicas × capacity × capacity_factor)`` drives everything: CPU
per replica tracks it, response time follows an M/M/c queue (:mod:`nexus_ml.sim.queueing`),
errors rise when the module is overloaded, and connections follow Little's law. Incidents
arrive as :class:`~nexus_ml.sim.incidents.Effects`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nexus_ml.catalog import ModuleProfile
from nexus_ml.features.calendar import LocalCalendar
from nexus_ml.sim.incidents import Effects
from nexus_ml.sim.noise import CPU, ERRORS, LATENCY, MEMORY, NETWORK
from nexus_ml.sim.queueing import mmc_response_time
from nexus_ml.sim.traits import ModuleTraits

FloatArray = npt.NDArray[np.float64]

#: Clients give up after this long (ms): the ceiling of response_time.
TIMEOUT_MS = 30_000.0
#: One inter-container call on a healthy overlay network (ms).
LINK_BASE_MS = 1.2
#: Memory a replica needs idle and at full load (fractions of its limit).
MEMORY_IDLE, MEMORY_LOAD = 0.30, 0.20
#: CPU a replica burns idle, and per unit of utilisation (fractions of its limit).
CPU_IDLE, CPU_LOAD = 0.03, 0.92
#: Errors of a healthy module (fraction of requests).
BASE_ERROR_RATE = 0.002


@dataclass(frozen=True)
class ModuleSeries:
    """Every simulated quantity of one module over a time axis (arrays of equal length).

    Units follow :class:`~nexus_ml.domain.metrics.ContainerHealthMetrics`; ``link_latency_ms``
    maps each called module to its call latency in milliseconds.
    """

    demand_rpm: FloatArray
    replicas: FloatArray
    utilisation: FloatArray
    cpu_usage: FloatArray
    memory_usage: FloatArray
    response_time: FloatArray
    active_connections: FloatArray
    error_rate: FloatArray
    disk_usage: FloatArray
    network_latency: FloatArray
    requests_per_min: FloatArray
    link_latency_ms: dict[str, FloatArray]


def _link_latencies(
    profile: ModuleProfile, effects: Effects, noise: FloatArray
) -> dict[str, FloatArray]:
    jitter = LINK_BASE_MS * np.exp(0.15 * noise[NETWORK])
    targets = list(profile.depends_on) + [
        t for t in effects.link_extra_ms if t not in profile.depends_on
    ]
    return {
        target: jitter + effects.link_extra_ms.get(target, np.zeros(len(jitter)))
        for target in targets
    }


def module_metrics(
    profile: ModuleProfile,
    traits: ModuleTraits,
    cal: LocalCalendar,
    noise: FloatArray,
    demand: FloatArray,
    replicas: FloatArray,
    effects: Effects,
) -> ModuleSeries:
    """The metrics of one module given its demand (rpm) and replica count at each instant.

    Parameters
    ----------
    profile, traits
        The module's catalog entry and simulator traits.
    cal
        Calendar features of the time axis (disk usage follows the month).
    noise
        Noise channels, shape (channels, n).
    demand
        Requests per minute, incident effects on demand already applied.
    replicas
        Running replicas (≥ 0).
    effects
        Incident effects on latency, errors, memory and call links.
    """
    replicas = np.asarray(replicas, dtype=np.float64)
    up = replicas > 0
    capacity = np.maximum(replicas, 1.0) * profile.capacity_rpm_per_replica
    u = demand / capacity
    busy = np.minimum(u, 1.0)

    cpu = np.clip((CPU_IDLE + CPU_LOAD * busy) * np.exp(0.03 * noise[CPU]), 0.0, 1.0)
    memory = MEMORY_IDLE + MEMORY_LOAD * busy + 0.01 * noise[MEMORY] + effects.memory_extra
    links = _link_latencies(profile, effects, noise)
    queue_s = mmc_response_time(u, np.maximum(replicas, 1.0), traits.service_ms / 1000.0)
    response = 1000.0 * queue_s * effects.latency_factor * np.exp(0.04 * noise[LATENCY])
    for latency in links.values():
        response = response + latency  # one call per request to each dependency
    response = np.minimum(response, TIMEOUT_MS)

    # Overload: what cannot be served in the window mostly fails; near saturation, timeouts.
    overload = 0.8 * np.maximum(0.0, 1.0 - 1.0 / np.maximum(u, 1e-12))
    near = 0.02 * np.clip((u - 0.9) / 0.1, 0.0, 1.0)
    errors = BASE_ERROR_RATE * np.exp(0.3 * noise[ERRORS]) + overload + near + effects.error_extra

    disk = 0.30 + 0.012 * (cal.day - 1 + cal.hour / 24.0)
    network = (
        np.maximum.reduce(list(links.values()))
        if links
        else 0.8 * LINK_BASE_MS * np.exp(0.15 * noise[NETWORK])  # its own database only
    )
    return ModuleSeries(
        demand_rpm=demand,
        replicas=replicas,
        utilisation=np.where(up, u, np.inf),
        cpu_usage=np.where(up, cpu, 0.0),
        memory_usage=np.where(up, np.clip(memory, 0.0, 1.0), 0.0),
        response_time=np.where(up, response, TIMEOUT_MS),
        active_connections=np.where(up, demand / 60.0 * response / 1000.0, 0.0),
        error_rate=np.where(up, np.clip(errors, 0.0, 1.0), np.where(demand > 0, 1.0, 0.0)),
        disk_usage=np.clip(disk, 0.0, 1.0),
        network_latency=np.asarray(network, dtype=np.float64),
        requests_per_min=demand,
        link_latency_ms=links,
    )
