"""The rendered stack running for real: images built and pushed, Swarm, nginx, a rollback.

Needs the services of scripts/services.sh: Docker Engine with a single-node Swarm
(``DOCKER_HOST``), the Docker Distribution registry on loopback (``NEXUS_TEST_REGISTRY``) and
Debian's nginx. What this Swarm cannot network (no IPVS, no overlay routing to loopback):
modules run on the host network bound to 127.0.0.1 and nginx reaches them there; the
production rendering (overlay network, routing mesh, ``tasks.<service>`` DNS) is checked by
the schema and property tests, not routed here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nexus_ml.catalog import Catalog
from nexus_ml.deploy import DeployOptions, render_nginx, render_stack
from nexus_ml.deploy.drift import stack_drift, stack_specs
from nexus_ml.deploy.policy import monitor_seconds
from nexus_ml.deploy.watch import release_status, wait_for_release
from tests.conftest import require_env
from tests.deploy import swarm_harness as h

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MODULES = ("nexus-user-management", "nexus-agendamento", "nexus-crm")
NEXUS_ML_SERVICES = ("decision", "executor", "retrain")
IMAGES = ("nexus-module:1", "nexus-module:2-bad")


class Deployment:
    def __init__(self, root: Path, registry: str, stack: str) -> None:
        self.root, self.registry, self.stack = root, registry, stack
        self.ports = {m: h.free_port() for m in MODULES}
        self.digests: dict[str, str] = {}
        self.catalog: Catalog = h.test_catalog(self.ports)
        self.nginx_port = h.free_port()
        self.nexus_ml_specs: dict[str, dict[str, Any]] = {}

    def options(self, *, include_nexus_ml: bool = False) -> DeployOptions:
        return DeployOptions(
            registry=f"{self.registry}/{self.stack}",
            digests=self.digests,
            stack_name=self.stack,
            network="host",
            bind_address="127.0.0.1",
            resolver="127.0.0.1",
            nginx_listen=f"127.0.0.1:{self.nginx_port}",
            include_nexus_ml=include_nexus_ml,
            decision_replicas=1,
            reservation_fraction=0.05,  # the test node has 2 cores
            update_delay_s=0,
            stop_grace_period_s=1,
        )

    def deploy(self, catalog: Catalog, name: str, *, include_nexus_ml: bool = False) -> Path:
        path = self.root / name
        path.write_text(render_stack(catalog, self.options(include_nexus_ml=include_nexus_ml)))
        proc = h.stack_deploy(path, self.stack)
        assert proc.returncode == 0, proc.stderr
        return path

    def service(self, module: str) -> str:
        return f"{self.stack}_{module}"

    def through_nginx(self, path: str) -> tuple[int, dict[str, str], bytes]:
        return h.http_get(f"http://127.0.0.1:{self.nginx_port}{path}")


@pytest.fixture(scope="module")
def deployment(
    docker_host: str, nginx_binary: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    registry = require_env("NEXUS_TEST_REGISTRY", "the Docker registry on loopback")
    root = tmp_path_factory.mktemp("deploy")
    dep = Deployment(root, registry, f"t14-{uuid.uuid4().hex[:6]}")
    nginx = None
    try:
        dep.digests = h.build_and_push(root, f"{registry}/{dep.stack}")
        # the whole rendered stack, nexus-ml's own services included, passes Engine 20.10;
        # nexus-ml's image is not built here (see the README), so once their specs are read
        # its services leave the stack before their tasks churn on the missing image
        dep.deploy(dep.catalog, "full-stack.yml", include_nexus_ml=True)
        own = [dep.service(s) for s in NEXUS_ML_SERVICES]
        dep.nexus_ml_specs = {s: h.inspect_service(s)["Spec"] for s in own}
        h.docker("service", "rm", *own)
        nginx = h.start_nginx(nginx_binary, render_nginx(dep.catalog, dep.options()), root / "nx")
        yield dep
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(timeout=10)
        made = [f"{registry}/{dep.stack}/{i}" for i in (*IMAGES, "nexus-python:test")]
        h.stack_rm(dep.stack, made)


def _expected_limits(module: Any, svc: dict[str, Any]) -> None:
    spec = svc["Spec"]
    task = spec["TaskTemplate"]
    limits = task["Resources"]["Limits"]
    assert limits["NanoCPUs"] == round(module.cpu_limit * 1e9)
    assert limits["MemoryBytes"] == round(module.memory_limit_gb * 1024) * 2**20
    assert spec["Mode"]["Replicated"]["Replicas"] == module.min_replicas
    update, rollback = spec["UpdateConfig"], spec["RollbackConfig"]
    monitor_ns = monitor_seconds(module.health, 0) * 10**9
    assert update["FailureAction"] == "rollback" and update["Monitor"] == monitor_ns
    assert update["Order"] == module.update_order and update["Parallelism"] == 1
    assert rollback["FailureAction"] == "pause" and rollback["Order"] == module.update_order
    assert task["RestartPolicy"]["Condition"] == "any"
    assert spec["Labels"]["io.nexus-ml.module"] == module.name
    assert spec["Labels"]["io.nexus-ml.max-replicas"] == str(module.max_replicas)
    health = task["ContainerSpec"]["Healthcheck"]
    assert health["Retries"] == module.health.retries
    assert health["Test"][-1] == f"http://127.0.0.1:{module.port}{module.health.path}"


def test_swarm_runs_what_the_catalog_says(deployment: Deployment) -> None:
    for module in deployment.catalog:
        svc = h.inspect_service(deployment.service(module.name))
        _expected_limits(module, svc)
        image = svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        assert image.endswith("@" + deployment.digests["nexus-module:1"])  # by digest
    # the library's own comparison agrees: nothing differs from the catalog
    assert (
        stack_drift(deployment.catalog, stack_specs(deployment.stack), deployment.options()) == []
    )
    specs = deployment.nexus_ml_specs
    executor = specs[deployment.service("executor")]
    assert executor["TaskTemplate"]["Placement"]["Constraints"] == ["node.role == manager"]
    for spec in specs.values():
        assert spec["UpdateConfig"]["FailureAction"] == "rollback"
        assert spec["TaskTemplate"]["Resources"]["Limits"]["NanoCPUs"] > 0
        assert spec["TaskTemplate"]["ContainerSpec"]["Image"] == (
            f"{deployment.registry}/{deployment.stack}/nexus-ml:0.1.0"
        )
    assert specs[deployment.service("retrain")]["Mode"]["Replicated"]["Replicas"] == 1
    for module in deployment.catalog:
        h.poll(
            f"{module.name} at {module.min_replicas} running tasks",
            lambda m=module: h.running_tasks(deployment.service(m.name)) >= m.min_replicas,
            timeout_s=60,
        )


def test_nginx_routes_to_every_module_and_its_tasks(deployment: Deployment) -> None:
    for module in deployment.catalog:
        _status, _headers, body = h.poll(
            f"{module.name} through nginx",
            lambda m=module: (
                (r := deployment.through_nginx(f"/{m.short_name}/api/info"))[0] == 200 and r
            ),
            timeout_s=60,
        )
        assert json.loads(body)["module"] == module.name
    um = deployment.catalog.get("user-management")
    tasks: set[str] = set()

    def both_answered() -> bool:
        for _ in range(10):
            status, headers, _body = deployment.through_nginx("/user-management/api/users")
            assert status == 200
            tasks.add(headers["X-Nexus-Task"])
        return len(tasks) >= um.min_replicas

    # both replicas answer through the one location (the kernel spreads connections)
    h.poll("every user-management task behind nginx", both_answered, timeout_s=30)
    assert len(tasks) == um.min_replicas
    assert all(t.startswith(f"{deployment.service(um.name)}.") for t in tasks)
    status, _, metrics = deployment.through_nginx("/crm/metrics")
    assert status == 200 and b'nexus_module_requests_total{module="nexus-crm"' in metrics
    assert deployment.through_nginx("/finance/api/info")[0] == 404


def test_a_release_failing_its_healthcheck_is_rolled_back_and_noticed(
    deployment: Deployment,
) -> None:
    crm = deployment.service("nexus-crm")
    before = h.inspect_service(crm)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    bad = h.test_catalog(deployment.ports, bad_crm_image="nexus-module:2-bad")
    deployment.deploy(bad, "bad-release.yml")  # exits 0: Swarm accepted the new spec
    status = wait_for_release(crm, timeout_s=120)
    assert status.settled, status
    assert status.failed and status.state == "rollback_completed", status
    assert release_status(crm).failed
    after = h.inspect_service(crm)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    assert after == before and deployment.digests["nexus-module:1"] in after
    specs = stack_specs(deployment.stack)
    assert stack_drift(deployment.catalog, specs, deployment.options()) == []
    # against the bad release's rendering, the image is what differs: it did not go out
    drift = stack_drift(bad, specs, deployment.options())
    assert [d.field for d in drift] == ["TaskTemplate.ContainerSpec.Image"]
    # the other modules were not touched, and CRM serves again through nginx
    for name in ("nexus-user-management", "nexus-agendamento"):
        assert release_status(deployment.service(name)).state in (None, "completed")
    h.poll(
        "CRM back through nginx",
        lambda: deployment.through_nginx("/crm/health")[0] == 200,
        timeout_s=60,
    )
