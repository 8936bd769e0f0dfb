"""What runs on Swarm against what the catalog says: the differences, field by field.

Reads the specs ``docker service inspect`` returns (``Spec``) for the services of one stack and
compares them with the rendering of the catalog: the module labels, CPU and memory limits,
the update and rollback policy, the healthcheck and the image. Replicas are compared with the
catalog's range, not with ``min_replicas``: the executor scales within it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nexus_ml.catalog import Catalog, ModuleProfile
from nexus_ml.deploy.options import DeployOptions, full_service_name
from nexus_ml.deploy.policy import monitor_seconds
from nexus_ml.deploy.stack import module_labels

NS_PER_S = 1_000_000_000
#: The label ``docker stack deploy`` puts on every service of a stack.
STACK_LABEL = "com.docker.stack.namespace"


@dataclass(frozen=True)
class Difference:
    """One field of one service that is not what the catalog renders."""

    service: str
    field: str
    expected: object
    actual: object

    def __str__(self) -> str:
        return f"{self.service}: {self.field} is {self.actual!r}, catalog says {self.expected!r}"


def _get(spec: Mapping[str, Any], *path: str) -> Any:
    node: Any = spec
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def _expected(module: ModuleProfile, options: DeployOptions) -> dict[str, object]:
    order = module.update_order
    monitor = monitor_seconds(module.health, options.update_delay_s) * NS_PER_S
    health = module.health
    return {
        "TaskTemplate.Resources.Limits.NanoCPUs": round(round(module.cpu_limit, 3) * NS_PER_S),
        "TaskTemplate.Resources.Limits.MemoryBytes": max(4, round(module.memory_limit_gb * 1024))
        * 2**20,
        "UpdateConfig.FailureAction": "rollback",
        "UpdateConfig.Order": order,
        "UpdateConfig.Monitor": monitor,
        "RollbackConfig.Order": order,
        "TaskTemplate.ContainerSpec.Healthcheck.Retries": health.retries,
        "TaskTemplate.ContainerSpec.Healthcheck.Interval": health.interval_s * NS_PER_S,
        "TaskTemplate.ContainerSpec.Image": options.image_ref(module.image),
        **{f"Labels.{k}": v for k, v in module_labels(module).items()},
    }


def module_drift(
    module: ModuleProfile, spec: Mapping[str, Any] | None, options: DeployOptions
) -> list[Difference]:
    """The differences between ``module``'s rendering and its service ``spec`` (pure)."""
    name = full_service_name(options, module.name)
    if spec is None:
        return [Difference(name, "service", "present", "missing")]
    found: list[Difference] = []
    for field, expected in _expected(module, options).items():
        label = field.removeprefix("Labels.") if field.startswith("Labels.") else ""
        actual = _get(spec, "Labels", label) if label else _get(spec, *field.split("."))
        if actual != expected:
            found.append(Difference(name, field, expected, actual))
    replicas = _get(spec, "Mode", "Replicated", "Replicas")
    if not isinstance(replicas, int) or not (
        module.min_replicas <= replicas <= module.max_replicas
    ):
        found.append(
            Difference(
                name,
                "Mode.Replicated.Replicas",
                f"{module.min_replicas}..{module.max_replicas}",
                replicas,
            )
        )
    return found


def stack_drift(
    catalog: Catalog, specs: Mapping[str, Mapping[str, Any]], options: DeployOptions
) -> list[Difference]:
    """Every difference between the catalog's modules and the service ``specs`` by name."""
    found: list[Difference] = []
    for module in catalog:
        found += module_drift(module, specs.get(full_service_name(options, module.name)), options)
    return found


def stack_specs(stack: str, client: Any = None) -> dict[str, dict[str, Any]]:
    """The ``Spec`` of every service of ``stack`` on the Swarm of ``client``, by name."""
    if client is None:
        import docker

        client = docker.from_env()
    services = client.api.services(filters={"label": f"{STACK_LABEL}={stack}"})
    return {s["Spec"]["Name"]: s["Spec"] for s in services}
