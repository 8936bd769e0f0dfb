"""Throwaway Swarm services for tests and benchmarks: unique prefixed names, removed afterwards."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

import docker
from docker.types import RollbackConfig, ServiceMode, UpdateConfig

# Swarm watches each updated task for 5 s by default before calling an update complete;
# 0.2 s keeps restart and rollback tests short.
_MONITOR_NS = 200_000_000


def unique_prefix(area: str = "exec-test") -> str:
    return f"{area}-{uuid.uuid4().hex[:6]}-"


@contextmanager
def module_services(
    client: docker.DockerClient,
    prefix: str,
    modules: Sequence[str],
    *,
    replicas: int = 1,
    image: str = "nexus-module:1",
    mode: str = "replicated",
) -> Iterator[dict[str, str]]:
    """Create one service per module (network-less, 1 s stop grace) and remove them after."""
    created: dict[str, str] = {}
    try:
        for module in modules:
            svc = client.services.create(
                image,
                name=prefix + module,
                mode=ServiceMode(mode, replicas=replicas if mode == "replicated" else None),
                stop_grace_period=1_000_000_000,
                update_config=UpdateConfig(monitor=_MONITOR_NS),
                rollback_config=RollbackConfig(monitor=_MONITOR_NS),
            )
            created[module] = svc.id
        wait_running(client, created.values(), replicas if mode == "replicated" else 1)
        yield created
    finally:
        for service_id in created.values():
            with suppress(docker.errors.NotFound):
                client.api.remove_service(service_id)


def wait_running(client: docker.DockerClient, ids, count: int, timeout_s: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    for service_id in ids:
        while True:
            tasks = client.api.tasks(filters={"service": service_id, "desired-state": "running"})
            if sum(t["Status"]["State"] == "running" for t in tasks) >= count:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"service {service_id} not running")
            time.sleep(0.1)
