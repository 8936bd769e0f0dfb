"""In-memory seams of the release pipeline: a Swarm, a proxy, a database, the ERP over HTTP.

The fake HTTP answers as the module stand-in behind staging's nginx does: ``/<short>/…`` is
routed to ``<staging stack>_nexus-<short>``, with the stand-in's status codes and headers;
a per-module latency and health can be set to make a candidate slow or sick.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import yaml

from nexus_ml.errors import ClusterError
from nexus_ml.migrate.errors import StepFailed
from nexus_ml.release.cluster import ServiceTasks
from nexus_ml.release.http import Answer


def spec_of(name: str, image: str, state: str | None = None, started: str | None = None) -> dict:
    doc: dict[str, Any] = {
        "ID": name,
        "Spec": {"Name": name, "TaskTemplate": {"ContainerSpec": {"Image": image}}},
    }
    if state is not None:
        doc["UpdateStatus"] = {"State": state, "StartedAt": started, "Message": ""}
    return doc


@dataclass
class FakeCluster:
    """Services by name; stacks deployed from their YAML; updates settle as ``outcome`` says."""

    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    failing: dict[str, str] = field(default_factory=dict)  # service -> task error
    outcome: str = "completed"  # or rollback_completed, paused
    deploy_error: str | None = None
    calls: list[tuple[str, ...]] = field(default_factory=list)
    stacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    _clock: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def service_spec(self, service: str) -> Mapping[str, Any] | None:
        return self.services.get(service)

    def deploy_stack(self, stack_text: str, name: str) -> None:
        self.calls.append(("deploy", name))
        if self.deploy_error:
            raise ClusterError(self.deploy_error)
        doc = yaml.safe_load(stack_text)
        self.stacks[name] = doc
        for svc, body in doc["services"].items():
            self.services[f"{name}_{svc}"] = spec_of(f"{name}_{svc}", body["image"])

    def remove_stack(self, name: str) -> None:
        self.calls.append(("remove", name))
        for svc in [s for s in self.services if s.startswith(name + "_")]:
            del self.services[svc]

    def tasks(self, service: str) -> ServiceTasks:
        if service in self.failing:
            return ServiceTasks(0, (self.failing[service],))
        return ServiceTasks(2 if service in self.services else 0)

    def update_image(self, service: str, image: str) -> None:
        self.calls.append(("update", service, image))
        old = self.services[service]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        kept = image if self.outcome == "completed" else old
        self.services[service] = spec_of(service, kept, self.outcome, f"t{next(self._clock)}")
        if self.outcome != "completed":
            self.services[service]["UpdateStatus"]["Message"] = "update rolled back due to failure"


@dataclass
class FakeProxy:
    config: str | None = None
    running: bool = False

    def start(self, config_text: str) -> None:
        self.config, self.running = config_text, True

    def stop(self) -> None:
        self.running = False


@dataclass
class FakeDatabase:
    """Production's database: a copy per staging run, migrations that pass or fail."""

    pending: Sequence[str] = ()
    fail: StepFailed | None = None
    copies: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    runs: list[tuple[str | None, str, tuple[str, ...] | None]] = field(default_factory=list)

    @contextmanager
    def _copy(self) -> Iterator[str]:
        name = f"copy{len(self.copies)}"
        self.copies.append(name)
        try:
            yield name
        finally:
            self.dropped.append(name)

    def staging_copy(self) -> Any:
        return self._copy()

    def migrate(
        self, dsn: str | None, *, release: str, expect: Sequence[str] | None = None
    ) -> list[str]:
        self.runs.append((dsn, release, tuple(expect) if expect is not None else None))
        if self.fail is not None and dsn is not None:
            raise self.fail
        return list(self.pending)

    def describe(self, dsn: str) -> str:
        return f"db/{dsn}"

    def name_of(self, dsn: str) -> str:
        return f"nexus_{dsn}"


@dataclass
class FakeErp:
    """The stand-in modules behind staging's nginx (stack ``stack``)."""

    stack: str
    latency_ms: dict[str, float] = field(default_factory=dict)  # module -> ms
    status: dict[str, int] = field(default_factory=dict)  # module -> forced status
    info_module: dict[str, str] = field(default_factory=dict)  # module -> name in /api/info
    requests: list[tuple[str, str, Mapping[str, str]]] = field(default_factory=list)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        self.requests.append((method, url, dict(headers or {})))
        parts = urlsplit(url).path.split("/", 2)
        short, path = parts[1], "/" + (parts[2] if len(parts) > 2 else "")
        module = "nexus-" + short
        seconds = self.latency_ms.get(module, 2.0 + 0.1 * (len(self.requests) % 7)) / 1000
        head = {"X-Nexus-Module": module, "X-Nexus-Task": f"{self.stack}_{module}.1.abc"}
        if module in self.status:
            return Answer(self.status[module], b"{}", head, seconds)
        if path == "/health":
            return Answer(
                200, json.dumps({"status": "ok", "module": module}).encode(), head, seconds
            )
        if path == "/metrics":
            return Answer(200, b"nexus_module_requests_total 1\n", head, seconds)
        if path.startswith("/api/") and path != "/api/no-such-endpoint":
            who = self.info_module.get(module, module)
            data = {"module": who, "version": "1", "path": path}
            return Answer(
                201 if method == "POST" else 200, json.dumps(data).encode(), head, seconds
            )
        return Answer(404, b"{}", head, seconds)
