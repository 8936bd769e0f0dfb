"""Deployed specs against the catalog (pure: specs as ``docker service inspect`` shows them)."""

from __future__ import annotations

import copy
from typing import Any

from nexus_ml.catalog import load_catalog
from nexus_ml.deploy import DeployOptions, stack_document
from nexus_ml.deploy.drift import module_drift, stack_drift

CATALOG = load_catalog()
OPTIONS = DeployOptions(stack_name="erp")


def engine_spec(name: str) -> dict[str, Any]:
    """The Engine's ``Spec`` of a rendered module service (what stack deploy turns it into)."""
    svc = stack_document(CATALOG, OPTIONS)["services"][name]
    deploy, check = svc["deploy"], svc["healthcheck"]

    def ns(duration: str) -> int:
        return int(duration.removesuffix("s")) * 1_000_000_000

    limits = deploy["resources"]["limits"]
    return {
        "Name": f"erp_{name}",
        "Labels": dict(deploy["labels"], **{"com.docker.stack.namespace": "erp"}),
        "Mode": {"Replicated": {"Replicas": deploy["replicas"]}},
        "TaskTemplate": {
            "ContainerSpec": {
                "Image": svc["image"],
                "Healthcheck": {"Retries": check["retries"], "Interval": ns(check["interval"])},
            },
            "Resources": {
                "Limits": {
                    "NanoCPUs": round(float(limits["cpus"]) * 1e9),
                    "MemoryBytes": int(limits["memory"].removesuffix("M")) * 2**20,
                }
            },
        },
        "UpdateConfig": {
            "FailureAction": "rollback",
            "Order": deploy["update_config"]["order"],
            "Monitor": ns(deploy["update_config"]["monitor"]),
        },
        "RollbackConfig": {"Order": deploy["rollback_config"]["order"]},
    }


def specs() -> dict[str, dict[str, Any]]:
    return {f"erp_{m.name}": engine_spec(m.name) for m in CATALOG}


def test_a_faithful_deployment_has_no_drift() -> None:
    assert stack_drift(CATALOG, specs(), OPTIONS) == []


def test_scaled_within_the_range_is_not_drift_but_outside_is() -> None:
    crm = CATALOG.get("crm")
    spec = engine_spec("nexus-crm")
    spec["Mode"]["Replicated"]["Replicas"] = crm.max_replicas
    assert module_drift(crm, spec, OPTIONS) == []
    spec["Mode"]["Replicated"]["Replicas"] = crm.max_replicas + 1
    (diff,) = module_drift(crm, spec, OPTIONS)
    assert diff.field == "Mode.Replicated.Replicas" and diff.actual == 5
    assert "catalog says '1..4'" in str(diff)


def test_each_changed_field_is_named() -> None:
    all_specs = specs()
    tampered = copy.deepcopy(all_specs)
    um = tampered["erp_nexus-user-management"]
    um["TaskTemplate"]["Resources"]["Limits"]["NanoCPUs"] = 1_000_000_000
    um["UpdateConfig"]["FailureAction"] = "pause"
    um["Labels"]["io.nexus-ml.max-replicas"] = "20"
    del tampered["erp_nexus-agendamento"]
    fields = {(d.service, d.field) for d in stack_drift(CATALOG, tampered, OPTIONS)}
    assert fields == {
        ("erp_nexus-user-management", "TaskTemplate.Resources.Limits.NanoCPUs"),
        ("erp_nexus-user-management", "UpdateConfig.FailureAction"),
        ("erp_nexus-user-management", "Labels.io.nexus-ml.max-replicas"),
        ("erp_nexus-agendamento", "service"),
    }
