"""The Swarm stack file of the ERP modules and of nexus-ml's own services, from the catalog.

Pure: (catalog, options) → YAML text, byte-identical for the same inputs (no clock, no
environment, insertion-ordered mappings). Engine 20.10's ``docker stack deploy`` checks the file
against its Compose v3 schema, which rejects unknown keys and numbers where strings belong
(``cpus``, durations), so every such value is rendered as a string.
"""

from __future__ import annotations

from typing import Any

import yaml

from nexus_ml.catalog import Catalog, HealthCheck, ModuleProfile
from nexus_ml.deploy import policy
from nexus_ml.deploy.options import DeployOptions, service_address

#: libyaml's emitter when PyYAML has it (4x faster); both emit the same bytes for this document.
DUMPER: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
COMPOSE_VERSION = "3.8"
LABEL_PREFIX = "io.nexus-ml"
HEADER = (
    "# Nexus ERP on Docker Swarm, rendered by `nexus-ml stack render` from the module catalog.\n"
    "# Do not edit: change the catalog (or the deploy settings) and render again.\n"
)
HOST_NETWORK = "hostnet"
OVERLAY_NETWORK = "nexus"
DECISION_PORT = 8000
#: nexus-ml's own jobs have no HTTP endpoint but the service: their probe is that the CLI of the
#: image starts, which is what a broken release breaks.
CLI_HEALTH = HealthCheck(interval_s=30, timeout_s=20, retries=3, start_period_s=10)
SERVICE_HEALTH = HealthCheck(
    path="/healthz", interval_s=10, timeout_s=3, retries=3, start_period_s=20
)


def _memory_mb(gigabytes: float) -> int:
    return max(4, round(gigabytes * 1024))


def _networking(options: DeployOptions, port: int | None) -> dict[str, Any]:
    if options.network == "host":
        return {"networks": [HOST_NETWORK]}
    net: dict[str, Any] = {"networks": [OVERLAY_NETWORK]}
    if port is not None:
        net["ports"] = [{"target": port, "published": port, "protocol": "tcp", "mode": "ingress"}]
    return net


def module_labels(module: ModuleProfile) -> dict[str, str]:
    """The service labels nexus-ml reads back from Swarm (strings, as Swarm stores them)."""
    return {
        f"{LABEL_PREFIX}.module": module.name,
        f"{LABEL_PREFIX}.min-replicas": str(module.min_replicas),
        f"{LABEL_PREFIX}.max-replicas": str(module.max_replicas),
        f"{LABEL_PREFIX}.port": str(module.port),
        f"{LABEL_PREFIX}.depends-on": ",".join(sorted(module.depends_on)),
    }


def module_service(module: ModuleProfile, options: DeployOptions) -> dict[str, Any]:
    """The stack entry of one ERP module."""
    health = module.health
    return {
        "image": options.image_ref(module.image),
        "environment": {
            "NEXUS_MODULE": module.name,
            "MODULE_PORT": str(module.port),
            "MODULE_BIND": options.bind_address,
            # Swarm fills the template per task: which task answered, behind nginx
            "MODULE_TASK": "{{.Task.Name}}",
        },
        "healthcheck": policy.healthcheck(policy.http_probe(module.port, health.path), health),
        "stop_grace_period": policy.duration(options.stop_grace_period_s),
        **_networking(options, module.port),
        "deploy": {
            "mode": "replicated",
            "replicas": module.min_replicas,
            "labels": module_labels(module),
            "resources": policy.resources(
                module.cpu_limit, _memory_mb(module.memory_limit_gb), options.reservation_fraction
            ),
            "update_config": policy.update_config(
                health, delay_s=options.update_delay_s, order=module.update_order
            ),
            "rollback_config": policy.rollback_config(health, order=module.update_order),
            "restart_policy": policy.restart_policy(),
        },
    }


def _nexus_env(options: DeployOptions) -> dict[str, str]:
    return {
        "NEXUS_STATE_DIR": "/var/lib/nexus-ml",
        "NEXUS_PROMETHEUS_URL": "${NEXUS_PROMETHEUS_URL:-http://prometheus:9090}",
        "NEXUS_MLFLOW_TRACKING_URI": "${NEXUS_MLFLOW_TRACKING_URI:-http://mlflow:5000}",
        "NEXUS_PG_DSN": "${NEXUS_PG_DSN:?set NEXUS_PG_DSN}",
        "NEXUS_API_TOKEN": "${NEXUS_API_TOKEN:?set NEXUS_API_TOKEN}",
    }


def _nexus_service(
    options: DeployOptions,
    component: str,
    command: list[str],
    *,
    replicas: int,
    cpus: float,
    memory_mb: int,
    health: tuple[list[str], HealthCheck],
    always: bool = True,
    port: int | None = None,
) -> dict[str, Any]:
    test, check = health
    return {
        "image": options.image_ref(options.nexus_ml_image),
        "command": command,
        "environment": _nexus_env(options),
        "healthcheck": policy.healthcheck(test, check),
        "stop_grace_period": policy.duration(options.stop_grace_period_s),
        **_networking(options, port),
        "deploy": {
            "mode": "replicated",
            "replicas": replicas,
            "labels": {f"{LABEL_PREFIX}.component": component},
            "resources": policy.resources(cpus, memory_mb, options.reservation_fraction),
            "update_config": policy.update_config(
                check, delay_s=options.update_delay_s, order="stop-first"
            ),
            "rollback_config": policy.rollback_config(check, order="stop-first"),
            "restart_policy": policy.restart_policy(always=always),
        },
    }


def nexus_ml_services(options: DeployOptions) -> dict[str, dict[str, Any]]:
    """The decision service, the executor (one leader, warm standby) and scheduled retraining."""
    host = options.bind_address
    cli_probe = (["CMD", "nexus-ml", "--help"], CLI_HEALTH)
    decision_url = (
        f"http://{service_address(options, 'decision')}:{DECISION_PORT}"
        if options.network == "host"
        else f"http://decision:{DECISION_PORT}"
    )
    decision = _nexus_service(
        options,
        "decision",
        ["nexus-ml", "serve", "--host", host, "--port", str(DECISION_PORT)],
        replicas=options.decision_replicas,
        cpus=1.0,
        memory_mb=1024,
        health=(policy.python_probe(DECISION_PORT, SERVICE_HEALTH.path), SERVICE_HEALTH),
        port=DECISION_PORT,
    )
    executor = _nexus_service(
        options,
        "executor",
        [
            "nexus-ml",
            "execute",
            "--backend",
            "swarm",
            "--interval",
            "60",
            "--prefix",
            f"{options.stack_name}_",
        ],
        replicas=2,
        cpus=0.5,
        memory_mb=512,
        health=cli_probe,
    )
    executor["environment"]["NEXUS_SERVICE_URL"] = decision_url
    executor["volumes"] = ["/var/run/docker.sock:/var/run/docker.sock"]
    # only managers can change services
    executor["deploy"]["placement"] = {"constraints": ["node.role == manager"]}
    retrain = _nexus_service(
        options,
        "retrain",
        [
            "nexus-ml",
            "retrain",
            "--cron",
            "0 3 * * *",
            "--pg-lock",
            "--days",
            "28",
            "--store",
            "mlflow",
        ],
        replicas=1,
        cpus=2.0,
        memory_mb=4096,
        health=cli_probe,
        always=False,
    )
    retrain["volumes"] = ["nexus-ml-state:/var/lib/nexus-ml"]
    return {"decision": decision, "executor": executor, "retrain": retrain}


def stack_document(catalog: Catalog, options: DeployOptions | None = None) -> dict[str, Any]:
    """The stack as a mapping (what :func:`render_stack` dumps)."""
    options = options or DeployOptions()
    services: dict[str, Any] = {}
    for name in catalog.dependency_order():
        services[name] = module_service(catalog.get(name), options)
    if options.include_nexus_ml:
        services.update(nexus_ml_services(options))
    doc: dict[str, Any] = {"version": COMPOSE_VERSION, "services": services}
    if options.network == "host":
        doc["networks"] = {HOST_NETWORK: {"external": True, "name": "host"}}
    else:
        doc["networks"] = {OVERLAY_NETWORK: {"driver": "overlay", "attachable": True}}
    if options.include_nexus_ml:
        doc["volumes"] = {"nexus-ml-state": {}}
    return doc


def render_stack(catalog: Catalog, options: DeployOptions | None = None) -> str:
    """The stack file text for ``docker stack deploy -c``.

    Parameters
    ----------
    catalog
        The module catalog: one service per module, with its limits, replicas and port.
    options
        Registry, pinned digests, networking; production defaults when ``None``.

    Returns
    -------
    str
        YAML, byte-identical for equal inputs.
    """
    body = yaml.dump(
        stack_document(catalog, options),
        Dumper=DUMPER,
        sort_keys=False,
        default_flow_style=False,
        width=4096,
        allow_unicode=True,
    )
    return HEADER + body
