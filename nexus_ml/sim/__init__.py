"""The ERP workload simulator: demand, incidents, metrics, history and a live exporter.

- :func:`simulate_history` — weeks of one-minute metrics for every catalog module (a metric
  frame plus the ground-truth columns ``replicas`` and ``demand_rpm``), deterministic in
  ``seed``.
- :class:`ErpSimulator` — the same model one instant at a time, for live use.
- Incidents (:class:`MemoryLeak`, :class:`LatencyDegradation`, :class:`ErrorBurst`,
  :class:`BadRelease`, :class:`SlowDependency`, :class:`DemandSurge`) are injectable data.
- :class:`~nexus_ml.sim.exporter.SimExporter` (imported from ``nexus_ml.sim.exporter``) serves
  the live metrics to Prometheus with cAdvisor and HTTP-server metric names.
"""

from nexus_ml.sim.history import TRUTH_COLUMNS, reactive_replicas, simulate_history
from nexus_ml.sim.incidents import (
    INCIDENT_KINDS,
    BadRelease,
    DemandSurge,
    ErrorBurst,
    Incident,
    LatencyDegradation,
    MemoryLeak,
    SlowDependency,
    parse_incident,
)
from nexus_ml.sim.simulator import ErpSimulator, ModuleSnapshot
from nexus_ml.sim.traits import ModuleTraits

__all__ = [
    "INCIDENT_KINDS",
    "TRUTH_COLUMNS",
    "BadRelease",
    "DemandSurge",
    "ErpSimulator",
    "ErrorBurst",
    "Incident",
    "LatencyDegradation",
    "MemoryLeak",
    "ModuleSnapshot",
    "ModuleTraits",
    "SlowDependency",
    "parse_incident",
    "reactive_replicas",
    "simulate_history",
]
