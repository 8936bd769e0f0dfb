"""SwarmBackend on the real single-node Swarm: scale, restart, rollback, hand changes, errors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from apps.stack.swarm import module_services, unique_prefix
from nexus_ml.errors import ClusterError
from nexus_ml.execute.swarm import SwarmBackend
from nexus_ml.execute.swarm_release import engine_time

pytestmark = pytest.mark.integration
CRM = "nexus-crm"


@pytest.fixture(scope="module")
def client(docker_host: str) -> Iterator[docker.DockerClient]:
    c = docker.DockerClient(base_url=docker_host, timeout=30)
    yield c
    c.close()


@pytest.fixture
def swarm(client: docker.DockerClient) -> Iterator[tuple[SwarmBackend, docker.DockerClient]]:
    prefix = unique_prefix()
    with module_services(client, prefix, [CRM]):
        yield SwarmBackend(client, name_prefix=prefix), client


def test_scale_converges_and_reports_running_tasks(swarm) -> None:
    backend, _ = swarm
    assert backend.services()[CRM].replicas == 1
    state = backend.scale(CRM, 3, timeout_s=30)
    assert (state.replicas, state.running, state.updated_by_hand) == (3, 3, False)
    state = backend.scale(CRM, 1, timeout_s=30)
    assert (state.replicas, state.running) == (1, 1)


def test_restart_replaces_the_task(swarm) -> None:
    backend, client = swarm
    service = client.services.get(backend._prefix + CRM)
    before = {t["ID"] for t in service.tasks(filters={"desired-state": "running"})}
    state = backend.restart(CRM, timeout_s=30)
    after = {t["ID"] for t in service.tasks(filters={"desired-state": "running"})}
    assert state.running == 1 and before and after and before.isdisjoint(after)


def test_rollback_returns_to_the_previous_image(swarm) -> None:
    backend, client = swarm
    service = client.services.get(backend._prefix + CRM)
    service.update(image="nexus-module:2")  # a release nexus-ml did not make
    state = backend.rollback(CRM, timeout_s=30)
    assert state.image == "nexus-module:1" and state.running == 1
    assert state.updated_by_hand is False  # the rollback re-stamps our labels


def test_a_scale_by_hand_is_detected(swarm) -> None:
    backend, client = swarm
    backend.scale(CRM, 2, timeout_s=30)
    client.services.get(backend._prefix + CRM).scale(3)  # `docker service scale` by an operator
    assert backend.services()[CRM].updated_by_hand is True


def test_a_missing_service_and_an_api_refusal_raise_cluster_error(client) -> None:
    backend = SwarmBackend(client, name_prefix=unique_prefix())
    with pytest.raises(ClusterError, match="not found"):
        backend.scale(CRM, 2)
    prefix = unique_prefix()
    # Swarm refuses to turn a global service into a replicated one: a real API error.
    with (
        module_services(client, prefix, [CRM], mode="global"),
        pytest.raises(ClusterError, match="cannot update service"),
    ):
        SwarmBackend(client, name_prefix=prefix).scale(CRM, 2, timeout_s=10)


def test_convergence_deadline(swarm) -> None:
    backend, _ = swarm
    with pytest.raises(ClusterError, match=r"did not converge within 0\.01 s"):
        backend.scale(CRM, 4, timeout_s=0.01)


def hanging_engine(tmp_path: Path) -> tuple[str, socket.socket]:
    """A unix socket that accepts connections and never answers: an Engine that hangs."""
    path = tmp_path / "hang.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    held: list[socket.socket] = []
    threading.Thread(
        target=lambda: held.extend(iter(lambda: server.accept()[0], None)), daemon=True
    ).start()
    return f"unix://{path}", server


def test_an_engine_that_hangs_times_out_as_cluster_error(tmp_path: Path) -> None:
    url, server = hanging_engine(tmp_path)
    try:
        client = docker.DockerClient(base_url=url, version="1.41", timeout=1)
        with pytest.raises(ClusterError, match="unreachable or timed out"):
            SwarmBackend(client).services()
    finally:
        server.close()


def test_a_concurrent_change_is_recognised_by_status_and_kept(swarm) -> None:
    """Someone changes the service between our read and our post: the Engine refuses our
    stale version, the backend reads again and re-applies its change on top of theirs."""
    backend, client = swarm
    name = backend._prefix + CRM
    real_update = backend._update
    raced: list[int] = []

    def update_after_someone_else(service_id: str, version: int, spec: dict) -> None:
        if not raced:
            current = client.api.inspect_service(service_id)
            theirs = current["Spec"]
            labels = {**(theirs.get("Labels") or {}), "owner": "ops"}
            client.api.update_service(
                service_id,
                current["Version"]["Index"],
                name=theirs["Name"],
                labels=labels,
                mode=theirs["Mode"],
                task_template=theirs["TaskTemplate"],
            )
            raced.append(version)
        real_update(service_id, version, spec)

    backend._update = update_after_someone_else  # type: ignore[method-assign]
    state = backend.scale(CRM, 2, timeout_s=30)
    labels = client.api.inspect_service(name)["Spec"]["Labels"]
    assert raced and state.replicas == 2 and state.running == 2
    assert labels["owner"] == "ops"  # their change survived ours
    assert state.updated_by_hand is False


def test_an_update_refused_without_a_race_is_not_retried(swarm) -> None:
    backend, _ = swarm
    calls: list[int] = []
    real_update = backend._update

    def counted(service_id: str, version: int, spec: dict) -> None:
        calls.append(version)
        spec["TaskTemplate"]["ContainerSpec"]["Image"] = ""  # the Engine refuses an empty image
        real_update(service_id, version, spec)

    backend._update = counted  # type: ignore[method-assign]
    with pytest.raises(ClusterError, match="cannot update service"):
        backend.scale(CRM, 2, timeout_s=10)
    assert len(calls) == 1


def test_the_release_is_observed_and_kept_across_our_own_changes(swarm) -> None:
    """A deploy is seen (when its rollout started, the previous image), keeps its time when the
    rollout completes, survives a scale by the executor (which replaces Swarm's PreviousSpec),
    and a rollback is not mistaken for a release."""
    backend, client = swarm
    name = backend._prefix + CRM
    assert backend.services()[CRM].released_at is None  # created, never released
    client.services.get(name).update(image="nexus-module:2")
    started = _rollout(client, name, "updating", "completed")["UpdateStatus"]["StartedAt"]
    deployed = backend.services()[CRM]
    assert deployed.previous_image == "nexus-module:1" and deployed.image == "nexus-module:2"
    assert deployed.released_at is not None
    assert deployed.released_at.isoformat()[:26] == started[:26]
    completed = _rollout(client, name, "completed")
    assert engine_time(completed["UpdatedAt"]) > deployed.released_at  # the updater wrote again
    assert backend.services()[CRM].released_at == deployed.released_at
    scaled = backend.scale(CRM, 2, timeout_s=30)
    assert scaled.updated_at > deployed.released_at  # the spec changed ...
    assert (scaled.released_at, scaled.previous_image) == (deployed.released_at, "nexus-module:1")
    back = backend.rollback(CRM, timeout_s=30)
    assert back.image == "nexus-module:1" and back.rolled_back and back.released_at is None


def test_an_operators_docker_service_rollback_is_not_a_release(swarm, docker_host) -> None:
    import os
    import subprocess

    backend, client = swarm
    name = backend._prefix + CRM
    client.services.get(name).update(image="nexus-module:2")
    assert backend.services()[CRM].released_at is not None
    env = {**os.environ, "DOCKER_HOST": docker_host}
    subprocess.run(
        ["docker", "service", "rollback", "--detach", name],
        env=env,
        check=True,
        capture_output=True,
    )
    back = backend.services()[CRM]
    assert back.image == "nexus-module:1" and back.update_state.startswith("rollback")
    assert back.rolled_back and back.released_at is None


def _rollout(client: docker.DockerClient, name: str, *states: str) -> dict:  # type: ignore[type-arg]
    """The service once Swarm's updater reports one of ``states`` (it writes the service when
    it starts a rollout and again when it completes it)."""
    deadline = time.monotonic() + 30
    while True:
        svc: dict = client.api.inspect_service(name)  # type: ignore[type-arg]
        if (svc.get("UpdateStatus") or {}).get("State") in states:
            return svc
        assert time.monotonic() < deadline, f"rollout of {name} never reached {states}"
        time.sleep(0.1)


def _env(spec: dict) -> list[str]:  # type: ignore[type-arg]
    return list(
        (spec.get("ContainerSpec") or spec["TaskTemplate"]["ContainerSpec"]).get("Env") or []
    )


def test_a_configuration_only_release_is_observed_kept_and_rolled_back(swarm) -> None:
    """A release that changes only the environment (a feature flag, a connection string) is a
    release too: seen, kept across a scale by the executor, and rolled back to the old
    environment on every task — the image never changed."""
    backend, client = swarm
    name = backend._prefix + CRM
    before = _env(client.api.inspect_service(name)["Spec"])
    client.services.get(name).update(env=[*before, "NEXUS_FLAG_NEW_CHECKOUT=on"])
    _rollout(client, name, "updating", "completed")
    deployed = backend.services()[CRM]
    assert deployed.image == deployed.previous_image == "nexus-module:1"
    assert deployed.released_at is not None
    scaled = backend.scale(CRM, 2, timeout_s=30)  # replaces Swarm's PreviousSpec, mid-rollout
    assert (scaled.released_at, scaled.previous_image) == (deployed.released_at, "nexus-module:1")
    back = backend.rollback(CRM, timeout_s=30)
    assert back.rolled_back and back.released_at is None
    assert (back.replicas, back.running) == (2, 2)  # the executor's capacity is kept
    assert _env(client.api.inspect_service(name)["Spec"]) == before
    tasks = client.api.tasks(filters={"service": name, "desired-state": "running"})
    assert len(tasks) == 2 and all(_env(t["Spec"]) == before for t in tasks)
    # a later scale by the executor keeps it a rollback, not a release
    assert backend.scale(CRM, 1, timeout_s=30).released_at is None
