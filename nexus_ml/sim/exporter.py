"""The live simulator as a Prometheus target, with the metric names real exporters use.

cAdvisor-style series, one per replica container (labels
``container_label_com_docker_swarm_service_name`` and ``name="<module>.<i>"``):
``container_cpu_usage_seconds_total``, ``container_spec_cpu_quota``/``_period``,
``container_memory_usage_bytes``, ``container_spec_memory_limit_bytes``,
``container_fs_usage_bytes``, ``container_fs_limit_bytes``.

Application-style series (label ``service``): ``http_requests_total{code}``,
``http_request_duration_seconds`` (histogram), ``http_server_active_connections``,
``nexus_dependency_request_duration_seconds{target}`` (histogram of inter-container calls).

Ground truth for tests: ``nexus_sim_replicas``, ``nexus_sim_demand_rpm`` and
``nexus_sim_release_info{version}``.

Counters advance with wall-clock time at the simulated rates, so PromQL's ``rate()`` recovers
the simulated values. The replica count follows ``replicas_of(module)`` — in the closed-loop
tests, a function reading the real Swarm service.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol, Self
from wsgiref.simple_server import WSGIServer

import numpy as np
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from nexus_ml.catalog import ModuleProfile
from nexus_ml.logs import get_logger
from nexus_ml.sim.incidents import Incident, as_utc
from nexus_ml.sim.queueing import erlang2_cdf
from nexus_ml.sim.simulator import ErpSimulator, ModuleSnapshot

log = get_logger(__name__)

SERVICE_LABEL = "container_label_com_docker_swarm_service_name"
#: Histogram buckets in seconds (Prometheus client defaults: 5 ms … 10 s).
BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    0.75,
    1,
    2.5,
    5,
    7.5,
    10,
)
CPU_PERIOD_US = 100_000
GIB = 1024**3
DEFAULT_FS_LIMIT_BYTES = 10 * GIB


class Clock(Protocol):
    """Anything that tells the simulated now (a :class:`SimClock`, or a test's own)."""

    def now(self) -> datetime: ...


class SimClock:
    """Simulated time that runs with the wall clock: ``sim = anchor + (wall − wall0) × speed``.

    Parameters
    ----------
    start
        The simulated instant that "now" maps to (default: the real now). Naive = UTC.
    speed
        Simulated seconds per wall second (1 = real time).
    wall
        The wall clock in seconds (injectable for tests).
    """

    def __init__(
        self,
        start: datetime | None = None,
        *,
        speed: float = 1.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._wall = wall
        self.speed = speed
        self.set(start or datetime.now(UTC))

    def set(self, now: datetime) -> None:
        """Jump: the simulated time is ``now`` from this wall instant on."""
        self._anchor = as_utc(now).timestamp()
        self._wall0 = self._wall()

    def now(self) -> datetime:
        """The current simulated instant (UTC)."""
        sim = self._anchor + (self._wall() - self._wall0) * self.speed
        return datetime.fromtimestamp(sim, UTC)


def fixed_replicas(counts: Mapping[str, int], default: int = 1) -> Callable[[str], int]:
    """A ``replicas_of`` that returns fixed counts (``default`` for unknown modules)."""
    return lambda module: int(counts.get(module, default))


@dataclass
class _Histogram:
    buckets: np.ndarray = field(default_factory=lambda: np.zeros(len(BUCKETS)))
    count: float = 0.0
    total: float = 0.0

    def observe_many(self, n: float, mean_s: float) -> None:
        """``n`` observations of an Erlang-2 distributed duration with mean ``mean_s``."""
        self.buckets += n * erlang2_cdf(np.asarray(BUCKETS), mean_s)
        self.count += n
        self.total += n * mean_s

    def as_buckets(self) -> list[tuple[str, float]]:
        pairs = [(repr(float(le)), float(v)) for le, v in zip(BUCKETS, self.buckets, strict=True)]
        return [*pairs, ("+Inf", self.count)]


@dataclass
class _ModuleCounters:
    requests_ok: float = 0.0
    requests_err: float = 0.0
    latency: _Histogram = field(default_factory=_Histogram)
    links: dict[str, _Histogram] = field(default_factory=dict)
    cpu_seconds: dict[int, float] = field(default_factory=dict)  # per replica slot


class SimExporter:
    """Serve an :class:`ErpSimulator` on ``http://host:port/metrics``.

    Parameters
    ----------
    simulator
        The simulated ERP (incidents may be injected at runtime through :meth:`inject`).
    replicas_of
        Running replicas of a module (full name); default: every module at its minimum.
    clock
        Simulated time: anything with ``now() -> datetime`` (default: a real-time
        :class:`SimClock`).
    host, port
        Listen address; port 0 picks a free port (see :attr:`port` after :meth:`start`).
    tick_s
        How often a background thread advances the counters between scrapes.
    fs_limit_bytes
        Filesystem size of each container.
    wall
        Monotonic wall clock in seconds (injectable for tests).
    """

    def __init__(
        self,
        simulator: ErpSimulator,
        *,
        replicas_of: Callable[[str], int] | None = None,
        clock: Clock | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tick_s: float = 1.0,
        fs_limit_bytes: int = DEFAULT_FS_LIMIT_BYTES,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.simulator = simulator
        mins = {m.name: m.min_replicas for m in simulator.catalog}
        self.replicas_of = replicas_of or fixed_replicas(mins)
        self.clock = clock or SimClock()
        self.host, self._port, self.tick_s = host, port, tick_s
        self.fs_limit_bytes = fs_limit_bytes
        self._wall = wall
        self._lock = threading.Lock()
        self._counters = {m.name: _ModuleCounters() for m in simulator.catalog}
        self._snapshot: dict[str, ModuleSnapshot] = {}
        self._last_wall: float | None = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        self._server: WSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    # --- lifecycle -------------------------------------------------------------------------
    def start(self) -> Self:
        """Start serving and ticking in background threads; returns self."""
        if self._server is not None:
            return self
        self.advance()
        server, thread = start_http_server(self._port, addr=self.host, registry=self.registry)
        self._server = server
        self._stop.clear()
        ticker = threading.Thread(target=self._tick, name="sim-exporter-tick", daemon=True)
        ticker.start()
        self._threads = [thread, ticker]
        log.info("sim_exporter.listening", url=self.url)
        return self

    def stop(self) -> None:
        """Stop the server and the ticker."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The listening port (the chosen one when constructed with port 0)."""
        return self._server.server_port if self._server is not None else self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    def _tick(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.advance()
            except Exception:  # a failing replicas_of must not kill the exporter
                log.exception("sim_exporter.tick_failed")

    # --- incidents and time ----------------------------------------------------------------
    def now(self) -> datetime:
        """The simulated now."""
        return self.clock.now()

    def inject(self, incident: Incident) -> Incident:
        """Add an incident to the running simulation."""
        self.advance()  # what happened before the incident is counted at the old rates
        resolved = self.simulator.inject(incident)
        self.advance()  # and from now on, the new rates
        return resolved

    def clear(self) -> None:
        """Remove every incident."""
        self.advance()
        self.simulator.clear()
        self.advance()

    # --- the simulation step ---------------------------------------------------------------
    def advance(self) -> dict[str, ModuleSnapshot]:
        """Advance the counters to now at the rates that held since the last step.

        Returns the fresh snapshot of every module (what the gauges show).
        """
        with self._lock:
            wall = self._wall()
            replicas = {name: max(0, int(self.replicas_of(name))) for name in self._counters}
            fresh = self.simulator.snapshot(self.clock.now(), replicas)
            if self._last_wall is not None and self._snapshot:
                dt = max(0.0, wall - self._last_wall)
                for profile in self.simulator.catalog:
                    self._integrate(profile, self._snapshot[profile.name], dt)
            for name, snap in fresh.items():
                slots = self._counters[name].cpu_seconds
                for gone in [i for i in slots if i > snap.replicas]:
                    del slots[gone]  # a stopped container's series disappears, as in cAdvisor
                for i in range(1, snap.replicas + 1):
                    slots.setdefault(i, 0.0)
            self._snapshot, self._last_wall = fresh, wall
            return fresh

    def _integrate(self, profile: ModuleProfile, snap: ModuleSnapshot, dt: float) -> None:
        counters = self._counters[profile.name]
        per_second = snap.requests_per_min / 60.0 * dt
        counters.requests_ok += per_second * (1.0 - snap.error_rate)
        counters.requests_err += per_second * snap.error_rate
        counters.latency.observe_many(per_second, snap.response_time / 1000.0)
        for target, latency_ms in snap.link_latency_ms.items():
            hist = counters.links.setdefault(target, _Histogram())
            hist.observe_many(per_second, latency_ms / 1000.0)
        cpu = snap.cpu_usage * profile.cpu_limit * dt
        for slot in counters.cpu_seconds:
            counters.cpu_seconds[slot] += cpu

    # --- prometheus_client Collector -------------------------------------------------------
    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        """Advance, then render every series (called by prometheus_client on each scrape)."""
        self.advance()
        with self._lock:
            yield from self._container_metrics()
            yield from self._application_metrics()

    def _container_metrics(self) -> Iterable[Metric]:
        labels = [SERVICE_LABEL, "name"]
        cpu = CounterMetricFamily(
            "container_cpu_usage_seconds_total", "Cumulative CPU time consumed", labels=labels
        )
        quota = GaugeMetricFamily("container_spec_cpu_quota", "CPU quota", labels=labels)
        period = GaugeMetricFamily("container_spec_cpu_period", "CPU period", labels=labels)
        mem = GaugeMetricFamily(
            "container_memory_usage_bytes", "Current memory usage", labels=labels
        )
        mem_limit = GaugeMetricFamily(
            "container_spec_memory_limit_bytes", "Memory limit", labels=labels
        )
        fs = GaugeMetricFamily("container_fs_usage_bytes", "Filesystem usage", labels=labels)
        fs_limit = GaugeMetricFamily("container_fs_limit_bytes", "Filesystem size", labels=labels)
        for profile in self.simulator.catalog:
            snap = self._snapshot[profile.name]
            limit = profile.memory_limit_gb * GIB
            for slot, seconds in sorted(self._counters[profile.name].cpu_seconds.items()):
                values = [profile.name, f"{profile.name}.{slot}"]
                cpu.add_metric(values, seconds)
                quota.add_metric(values, profile.cpu_limit * CPU_PERIOD_US)
                period.add_metric(values, CPU_PERIOD_US)
                mem.add_metric(values, snap.memory_usage * limit)
                mem_limit.add_metric(values, limit)
                fs.add_metric(values, snap.disk_usage * self.fs_limit_bytes)
                fs_limit.add_metric(values, self.fs_limit_bytes)
        return [cpu, quota, period, mem, mem_limit, fs, fs_limit]

    def _application_metrics(self) -> Iterable[Metric]:
        requests = CounterMetricFamily(
            "http_requests_total", "HTTP requests served", labels=["service", "code"]
        )
        duration = HistogramMetricFamily(
            "http_request_duration_seconds", "HTTP request duration", labels=["service"]
        )
        connections = GaugeMetricFamily(
            "http_server_active_connections", "Open client connections", labels=["service"]
        )
        links = HistogramMetricFamily(
            "nexus_dependency_request_duration_seconds",
            "Duration of calls to other modules",
            labels=["service", "target"],
        )
        replicas = GaugeMetricFamily("nexus_sim_replicas", "Simulated replicas", labels=["service"])
        demand = GaugeMetricFamily(
            "nexus_sim_demand_rpm", "Simulated demand (requests/min)", labels=["service"]
        )
        release = GaugeMetricFamily(
            "nexus_sim_release_info", "Running version", labels=["service", "version"]
        )
        for name, counters in self._counters.items():
            snap = self._snapshot[name]
            requests.add_metric([name, "200"], counters.requests_ok)
            requests.add_metric([name, "500"], counters.requests_err)
            duration.add_metric(
                [name], buckets=counters.latency.as_buckets(), sum_value=counters.latency.total
            )
            connections.add_metric([name], snap.active_connections)
            for target, hist in sorted(counters.links.items()):
                links.add_metric([name, target], buckets=hist.as_buckets(), sum_value=hist.total)
            replicas.add_metric([name], snap.replicas)
            demand.add_metric([name], snap.demand_rpm)
            release.add_metric([name, snap.version], 1.0)
        return [requests, duration, connections, links, replicas, demand, release]
