"""Property tests over random catalogs: pure rendering, no Docker, no nginx.

Every random catalog renders to a stack with one service per module and an nginx config with
one location and upstream per module; every service has limits, a healthcheck and rollback on
failure; rendering twice gives the same bytes; and the stack passes the Compose Spec schema
shipped in docker-compose 1.29.2.
"""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.deploy import DeployOptions, render_nginx, render_stack
from tests.deploy.strategies import catalogs

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
OPTIONS = st.builds(
    DeployOptions,
    registry=st.sampled_from(["docker.io/nexuserp", "127.0.0.1:15050/ci", "registry.local:5000"]),
    network=st.sampled_from(["overlay", "host"]),
    stack_name=st.sampled_from(["nexus", "erp-prod", "t1"]),
    include_nexus_ml=st.booleans(),
    reservation_fraction=st.floats(0.01, 1.0),
    update_delay_s=st.integers(0, 120),
)
PROPERTY = settings(
    max_examples=500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


def _seconds(value: str) -> int:
    assert re.fullmatch(r"\d+s", value), value
    return int(value[:-1])


@pytest.fixture(scope="module")
def compose_validator(compose_spec: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(compose_spec)
    cls.check_schema(compose_spec)
    return cls(compose_spec)


@PROPERTY
@given(catalog=catalogs(), options=OPTIONS)
def test_render_properties_hold_for_any_catalog(
    compose_validator: jsonschema.protocols.Validator, catalog: Catalog, options: DeployOptions
) -> None:
    stack = render_stack(catalog, options)
    nginx = render_nginx(catalog, options)
    # regeneration is byte-identical, also from a catalog rebuilt from its own data
    rebuilt = Catalog.model_validate(catalog.model_dump(by_alias=True))
    assert render_stack(rebuilt, options) == stack
    assert render_nginx(rebuilt, options) == nginx

    doc = yaml.load(stack, Loader=LOADER)
    # the Compose Spec shipped in docker-compose 1.29.2 accepts it
    errors = sorted(compose_validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:3]]
    services: dict[str, Any] = doc["services"]
    module_services = {
        n: s for n, s in services.items() if "io.nexus-ml.module" in s["deploy"]["labels"]
    }
    assert sorted(module_services) == sorted(catalog.names)
    expected_extra = {"decision", "executor", "retrain"} if options.include_nexus_ml else set()
    assert set(services) - set(module_services) == expected_extra

    for module in catalog:
        assert (
            len(re.findall(rf"^\s+location /{re.escape(module.short_name)}/ {{$", nginx, re.M)) == 1
        )
        var = "$upstream_" + module.short_name.replace("-", "_")
        assert nginx.count(f"set {var} ") == 1 and nginx.count(f"proxy_pass http://{var};") == 1
        svc = module_services[module.name]
        assert svc["deploy"]["replicas"] == module.min_replicas
        assert float(svc["deploy"]["resources"]["limits"]["cpus"]) == pytest.approx(
            module.cpu_limit, abs=5e-4
        )
        assert svc["deploy"]["labels"]["io.nexus-ml.max-replicas"] == str(module.max_replicas)
        assert svc["deploy"]["update_config"]["order"] == module.update_order

    for name, svc in services.items():
        deploy = svc["deploy"]
        for kind in ("limits", "reservations"):
            res = deploy["resources"][kind]
            assert isinstance(res["cpus"], str) and float(res["cpus"]) > 0, name
            assert re.fullmatch(r"\d+M", res["memory"]), name
        assert float(deploy["resources"]["reservations"]["cpus"]) <= float(
            deploy["resources"]["limits"]["cpus"]
        )
        check = svc["healthcheck"]
        assert check["test"][0] == "CMD" and check["retries"] >= 1, name
        update = deploy["update_config"]
        assert update["failure_action"] == "rollback", name
        worst = (
            _seconds(check["start_period"])
            + _seconds(check["interval"]) * check["retries"]
            + _seconds(check["timeout"])
        )
        assert _seconds(update["monitor"]) >= max(worst, _seconds(update["delay"])), name
        assert set(deploy["rollback_config"]) >= {"parallelism", "monitor", "order"}
        assert deploy["restart_policy"]["condition"] in ("any", "on-failure")


def test_the_schema_rejects_what_engine_20_10_rejects(
    compose_validator: jsonschema.protocols.Validator,
) -> None:
    # the schema is a real check: an unknown key and a misspelt policy field do not pass
    doc = yaml.safe_load(render_stack(load_catalog()))
    name = next(iter(doc["services"]))
    doc["services"][name]["deploy"]["update_config"]["on_failure"] = "rollback"
    assert not compose_validator.is_valid(doc)
    doc = yaml.safe_load(render_stack(load_catalog()))
    doc["services"][next(iter(doc["services"]))]["deploy"]["replicas"] = "2"
    assert not compose_validator.is_valid(doc)
