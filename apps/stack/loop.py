"""The real stack of the closed-loop tests and benchmarks, on a compressed clock.

Time compression: the simulator, the decision service and the executor share one simulated
clock that runs ``SPEED`` times faster than the wall clock, so a simulated hour passes in two
minutes. Prometheus keeps wall-clock timestamps; :class:`CompressedSource` translates the
service's simulated-minute windows to wall-clock windows (one simulated minute = ``60/SPEED``
wall seconds) and back, around the real ``PrometheusSource``.
Everything else is the production code path.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import uvicorn

from nexus_ml.execute.swarm import SwarmBackend
from nexus_ml.ingest.prometheus_source import PrometheusSource
from nexus_ml.ingest.queries import QueryCatalog
from nexus_ml.ingest.source import MetricFetch

SPEED = 30.0  # simulated seconds per wall second
WALL_STEP_S = int(60 / SPEED)  # one simulated minute on the wall clock


class CompressedClock:
    """Simulated time = ``start + (wall − wall0) × SPEED``; shared by every component."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.wall0 = time.time()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.wall0) * SPEED)

    def to_wall(self, sim: datetime) -> datetime:
        seconds = (sim - self.start).total_seconds() / SPEED
        return datetime.fromtimestamp(self.wall0 + seconds, UTC)

    def to_sim(self, wall: datetime) -> datetime:
        return self.start + timedelta(seconds=(wall.timestamp() - self.wall0) * SPEED)


def raw_query_catalog(run_label: str) -> QueryCatalog:
    """PromQL over the simulator's raw exporter series, limited to this run's target.

    The shared test Prometheus has no recording rules and other tests scrape exporters with the
    same module names: the ``exec_loop`` target label keeps this run's series apart. Rates use
    a 3 s window (three scrapes) for the compressed clock.
    """
    sel = f'exec_loop="{run_label}"'
    svc = f'{sel}, service=~"{{modules}}"'
    cont = f'{sel}, container_label_com_docker_swarm_service_name=~"{{modules}}"'

    def by_service(expr: str) -> str:
        return f'sum by (module) (label_replace({expr}, "module", "$1", "service", "(.+)"))'

    def by_container(expr: str, how: str = "avg") -> str:
        return (
            f'{how} by (module) (label_replace({expr}, "module", "$1", '
            '"container_label_com_docker_swarm_service_name", "(.+)"))'
        )

    rate = "[3s]"
    return QueryCatalog(
        fields={
            "requests_per_min": "60 * " + by_service(f"rate(http_requests_total{{{svc}}}{rate})"),
            "error_rate": (
                "("
                + by_service(f'rate(http_requests_total{{{svc}, code=~"5.."}}{rate})')
                + " or "
                + by_service(f"rate(http_requests_total{{{svc}}}{rate})")
                + " * 0) / "
                + by_service(f"rate(http_requests_total{{{svc}}}{rate})")
            ),
            "response_time": "1000 * "
            + by_service(f"rate(http_request_duration_seconds_sum{{{svc}}}{rate})")
            + " / "
            + by_service(f"rate(http_request_duration_seconds_count{{{svc}}}{rate})"),
            "active_connections": by_service(f"http_server_active_connections{{{svc}}}"),
            "cpu_usage": by_container(
                f"rate(container_cpu_usage_seconds_total{{{cont}}}{rate})"
                f" / (container_spec_cpu_quota{{{cont}}}"
                f" / container_spec_cpu_period{{{cont}}})"
            ),
            "memory_usage": by_container(
                f"container_memory_usage_bytes{{{cont}}}"
                f" / container_spec_memory_limit_bytes{{{cont}}}"
            ),
            "disk_usage": by_container(
                f"container_fs_usage_bytes{{{cont}}} / container_fs_limit_bytes{{{cont}}}"
            ),
            "network_latency": "max by (module) (label_replace(1000 * "
            f"rate(nexus_dependency_request_duration_seconds_sum{{{svc}}}{rate}) / "
            f"rate(nexus_dependency_request_duration_seconds_count{{{svc}}}{rate}),"
            ' "module", "$1", "service", "(.+)"))',
            "replicas": by_container(f"container_spec_cpu_period{{{cont}}}", "count"),
        },
        source="closed-loop raw queries",
    )


class CompressedSource:
    """A MetricSource on simulated time over the real PrometheusSource on wall time."""

    def __init__(self, inner: PrometheusSource, clock: CompressedClock) -> None:
        self.inner = inner
        self.clock = clock

    def fetch(
        self,
        modules: Sequence[str],
        start: datetime,
        end: datetime,
        step: timedelta = timedelta(minutes=1),
    ) -> MetricFetch:
        wall_step = timedelta(seconds=max(1, round(step.total_seconds() / SPEED)))
        got = self.inner.fetch(
            modules, self.clock.to_wall(start), self.clock.to_wall(end), wall_step
        )
        frame = got.frame.copy()
        wall = frame["timestamp"].map(lambda ts: self.clock.to_sim(ts.to_pydatetime()))
        frame["timestamp"] = pd.to_datetime(wall, utc=True)
        return MetricFetch(frame=frame, quality=got.quality)


def running_tasks(backend: SwarmBackend) -> dict[str, int]:
    """Tasks running now per module, whatever release they run.

    ``ServiceState.running`` counts only the tasks of the current spec (the executor's
    convergence check); while a rolling update replaces the tasks, the old release's tasks
    still serve the traffic, so the simulated capacity counts them too. Counting only the new
    ones would show a good release as an outage for as long as its containers take to start
    (simulated minutes on a loaded machine), which the post-deploy check rightly judges a
    regression.
    """
    api, prefix = backend._client.api, backend._prefix
    names = {
        s["ID"]: s["Spec"]["Name"][len(prefix) :]
        for s in api.services(filters={"name": prefix})
        if s["Spec"]["Name"].startswith(prefix)
    }
    counts = dict.fromkeys(names.values(), 0)
    for task in api.tasks(filters={"desired-state": "running"}):
        service = names.get(task.get("ServiceID", ""))
        if service is not None and task.get("Status", {}).get("State") == "running":
            counts[service] += 1
    return counts


class CachedReplicas:
    """Running tasks per module read from the real Swarm (old and new releases alike, see
    :func:`running_tasks`), refreshed at most every 0.3 s."""

    def __init__(self, backend: SwarmBackend, default: dict[str, int]) -> None:
        self.backend = backend
        self.counts = dict(default)
        self._at = 0.0
        self._lock = threading.Lock()

    def __call__(self, module: str) -> int:
        with self._lock:
            if time.monotonic() - self._at > 0.3:
                # keep the last counts when the Engine is busy
                with contextlib.suppress(Exception):
                    self.counts = running_tasks(self.backend)
                self._at = time.monotonic()
            return self.counts.get(module, 0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceThread:
    """The decision service app under uvicorn in a thread; stop() kills it, start() revives it."""

    def __init__(self, app: object, port: int) -> None:
        self.app = app
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        # log_config=None: uvicorn's lines go through the process's own (structured) handlers
        config = uvicorn.Config(
            self.app,  # type: ignore[arg-type]
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            log_config=None,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        # starting loads the champions (an MLflow download): slow on a busy machine
        deadline = time.monotonic() + 90
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("decision service did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            if self._thread.is_alive():
                self._thread.join(10)


def write_target(targets_dir: Path, run_label: str, port: int) -> Path:
    path = targets_dir / f"exec-loop-{run_label}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps([{"targets": [f"127.0.0.1:{port}"], "labels": {"exec_loop": run_label}}])
    )
    tmp.rename(path)  # atomic: Prometheus never reads half a file
    return path
