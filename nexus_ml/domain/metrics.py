"""Health metrics of one container (or one module, aggregated) at one instant."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from nexus_ml.domain.base import Frozen

#: The numeric fields, in a fixed order: columns of every metric frame.
METRIC_FIELDS: tuple[str, ...] = (
    "cpu_usage",
    "memory_usage",
    "response_time",
    "active_connections",
    "error_rate",
    "disk_usage",
    "network_latency",
    "requests_per_min",
)

#: An optional column of a metric frame: the module's replica containers running in the
#: minute (Prometheus: ``nexus:replicas``, counted from cAdvisor; the simulator: its count).
#: Not a health metric — the quality report does not count its gaps — but the scaling
#: strategy folds it in to know the capacity each past minute had (``decide/strategy.py``).
REPLICAS = "replicas"


class ContainerHealthMetrics(Frozen):
    """One observation.

    Units: ``cpu_usage`` fraction of the module's CPU limit summed over replicas (0.5 = half a
    replica's limit busy on average); ``memory_usage`` fraction of the memory limit per replica;
    ``response_time`` and ``network_latency`` milliseconds; ``error_rate`` fraction of requests
    failing; ``disk_usage`` fraction; ``requests_per_min`` requests per minute for the module.
    """

    module: str = Field(min_length=1, max_length=100)
    container_id: str = Field("", max_length=128)
    timestamp: datetime | None = None
    cpu_usage: float = Field(ge=0, le=1000)
    memory_usage: float = Field(ge=0, le=100)
    response_time: float = Field(ge=0, le=3_600_000)
    active_connections: float = Field(ge=0, le=1e9)
    error_rate: float = Field(ge=0, le=1)
    disk_usage: float = Field(ge=0, le=1)
    network_latency: float = Field(ge=0, le=3_600_000)
    requests_per_min: float = Field(ge=0, le=1e12)
