"""The staging plan (pure), promotion watching, checks and flows on fakes."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from nexus_ml.catalog import load_catalog
from nexus_ml.deploy import DeployOptions
from nexus_ml.errors import InputError
from nexus_ml.release.checks import CommandCheck, parse_check, run_checks
from nexus_ml.release.flows import edges, run_flows
from nexus_ml.release.measure import LoadSettings, measure
from nexus_ml.release.promote import promote
from nexus_ml.release.staging import StagingPlan, plan_staging
from tests.release.fakes import FakeCluster, FakeErp, spec_of

PROD = {
    "nexus-user-management": "reg/um@sha256:" + "1" * 64,
    "nexus-agendamento": "reg/ag@sha256:" + "2" * 64,
    "nexus-crm": "reg/crm@sha256:" + "3" * 64,
}
CANDIDATE = "reg/crm:2.1"


def staging(**options: Any) -> StagingPlan:
    fields: dict[str, Any] = {
        "stack_name": "staging",
        "network": "host",
        "nginx_listen": "127.0.0.1:18080",
        **options,
    }
    opts = DeployOptions(**fields)
    return plan_staging(load_catalog(), "crm", CANDIDATE, PROD, opts, port_offset=10000)


def test_staging_mirrors_production_with_the_candidate_and_a_baseline() -> None:
    plan = staging()
    catalog = load_catalog()
    doc = yaml.safe_load(plan.stack_text())
    images = {name: svc["image"] for name, svc in doc["services"].items()}
    assert images == {**PROD, "nexus-crm": CANDIDATE, "nexus-crm-baseline": PROD["nexus-crm"]}
    # its own ports: production's plus the offset, the baseline above them all
    for module in catalog:
        assert plan.catalog.get(module.name).port == module.port + 10000
    top = max(m.port for m in catalog) + 10000
    assert plan.catalog.get("nexus-crm-baseline").port == top + 1
    env = doc["services"]["nexus-crm-baseline"]["environment"]
    assert env["MODULE_PORT"] == str(top + 1) and env["NEXUS_MODULE"] == "nexus-crm-baseline"
    # nexus-ml's own services are not mirrored; service names carry staging's stack name
    assert "decision" not in doc["services"] and plan.options.include_nexus_ml is False
    assert plan.service("nexus-crm") == "staging_nexus-crm"
    nginx = plan.nginx_text()
    assert "location /crm/" in nginx and "location /crm-baseline/" in nginx
    assert f"127.0.0.1:{top + 1}" in nginx and "listen 127.0.0.1:18080;" in nginx
    assert plan.proxy_url == "http://127.0.0.1:18080"


def test_the_staging_plan_is_the_same_for_the_same_inputs() -> None:
    assert staging().stack_text() == staging().stack_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"port_offset": 70000}, "outside 1-65535"),
        ({"port_offset": -6000}, "outside 1-65535"),
        (
            {"production_images": {**PROD, "nexus-agendamento": ""}},
            "no image for nexus-agendamento",
        ),
        ({"candidate_image": "  "}, "--image must name the candidate image"),
        # CRM (5005) would land on Agendamento's production port (5008)
        ({"port_offset": 3}, "puts staging on production's port\\(s\\) 5008"),
    ],
)
def test_bad_staging_input_names_the_problem(change: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "catalog": load_catalog(),
        "module": "crm",
        "candidate_image": CANDIDATE,
        "production_images": PROD,
        "options": DeployOptions(stack_name="staging"),
        "port_offset": 10000,
    }
    args.update(change)
    with pytest.raises(InputError, match=message):
        plan_staging(**args)


def test_promotion_waits_for_its_own_update_to_settle() -> None:
    cluster = FakeCluster()
    cluster.services["p_crm"] = spec_of("p_crm", "old", "completed", "t0")
    result = promote(cluster, "p_crm", "new", timeout_s=10, sleep=lambda s: None)
    assert result.succeeded and result.state == "completed" and result.running_image == "new"


def test_a_rolled_back_promotion_fails_with_swarms_message() -> None:
    cluster = FakeCluster(outcome="rollback_completed")
    cluster.services["p_crm"] = spec_of("p_crm", "old", "completed", "t0")
    result = promote(cluster, "p_crm", "new", timeout_s=10, sleep=lambda s: None)
    assert not result.succeeded and result.state == "rollback_completed"
    assert "rolled back" in result.detail and result.running_image == "old"


def test_an_update_that_never_settles_times_out() -> None:
    cluster = FakeCluster(outcome="updating")
    cluster.services["p_crm"] = spec_of("p_crm", "old", "completed", "t0")
    now = [0.0]

    def sleep(s: float) -> None:
        now[0] += s

    result = promote(
        cluster, "p_crm", "new", timeout_s=5, poll_s=1, clock=lambda: now[0], sleep=sleep
    )
    assert not result.succeeded and "did not settle within 5 s" in result.detail


def test_the_previous_update_status_is_not_taken_for_this_one() -> None:
    # Swarm still shows the last update (completed) right after `service update --detach`
    cluster = FakeCluster()
    cluster.services["p_crm"] = spec_of("p_crm", "old", "completed", "t0")
    seen: list[str | None] = []
    real = cluster.service_spec

    def lagging(service: str) -> Any:
        spec = real(service)
        seen.append((spec or {}).get("UpdateStatus", {}).get("StartedAt"))
        return spec

    cluster.service_spec = lagging  # type: ignore[method-assign]
    promote(cluster, "p_crm", "new", timeout_s=10, sleep=lambda s: None)
    assert seen[0] == "t0" and seen[-1] != "t0"


def test_checks_parse_builtins_and_commands() -> None:
    assert parse_check("http-contract").name == "http-contract"
    check = parse_check("contract=pytest -m contract tests/contract")
    assert check.name == "contract" and isinstance(check.run, CommandCheck)
    with pytest.raises(InputError, match="not a built-in check"):
        parse_check("smoke")
    with pytest.raises(InputError, match="expected NAME=COMMAND"):
        parse_check("=pytest")


def test_a_command_check_sees_staging_and_fails_on_a_nonzero_exit() -> None:
    plan = staging()
    code = (
        "import os, sys; url = os.environ['NEXUS_RELEASE_URL']; "
        "sys.exit(0 if url == 'http://127.0.0.1:18080/crm' else 3)"
    )
    ok = CommandCheck("env", f'{sys.executable} -c "{code}"')
    assert ok(plan, FakeErp("staging")) == []
    bad = CommandCheck(
        "boom", f"{sys.executable} -c \"import sys; print('contract broken'); sys.exit(4)\""
    )
    assert bad(plan, FakeErp("staging")) == ["boom: exit 4: contract broken"]
    missing = CommandCheck("gone", "no-such-command-here --x")
    assert missing(plan, FakeErp("staging")) == ["gone: command not found: 'no-such-command-here'"]


def test_the_http_contract_flags_each_broken_part() -> None:
    plan = staging()
    erp = FakeErp("staging", status={"nexus-crm": 500})
    findings = run_checks([parse_check("http-contract")], plan, erp)
    assert findings == [
        "http-contract: GET /health: expected 200, got 500",
        "http-contract: GET /api/info: expected 200, got 500",
        "http-contract: GET /metrics: expected 200, got 500",
        "http-contract: GET /api/no-such-endpoint: expected 404, got 500",
    ]


def test_every_catalog_edge_and_flow_goes_to_the_right_service() -> None:
    plan = staging()
    assert sorted(e.label for e in edges(plan)) == [
        "nexus-agendamento->nexus-crm",
        "nexus-agendamento->nexus-user-management",
        "nexus-crm->nexus-user-management",
    ]
    assert run_flows(plan, FakeErp("staging")) == []
    # an nginx that sends CRM's location to another stack's tasks is caught
    wrong = FakeErp("production")
    findings = run_flows(plan, wrong)
    assert findings and "not one of staging_nexus-user-management" in findings[0]


def test_the_measurement_gives_the_judge_paired_windows() -> None:
    plan = staging()
    erp = FakeErp("staging")
    baseline, candidate = measure(plan, erp, LoadSettings(windows=5, requests_per_window=4))
    for samples in (baseline, candidate):
        assert samples.metrics == [
            "call_latency_ms:nexus-agendamento->nexus-crm",
            "errors",
            "latency_ms",
            "requests",
        ]
        assert len(samples.values("latency_ms")) == 5
    urls = [u for _m, u, _h in erp.requests]
    assert sum("/crm-baseline/" in u for u in urls) == sum("/crm/" in u for u in urls)


def test_swarm_task_states_are_read_from_service_ps(monkeypatch: pytest.MonkeyPatch) -> None:
    from nexus_ml.release import cluster as swarm

    ps = (
        "Running\tRunning 3 seconds ago\t\n"
        "Running\tStarting 1 second ago\t\n"
        'Shutdown\tFailed 5 seconds ago\t"task: non-zero exit (137): unhealthy container"\n'
        "Shutdown\tShutdown 9 seconds ago\t\n"
    )
    calls: list[tuple[str, ...]] = []

    def fake(*args: str, **_kw: object) -> str:
        calls.append(args)
        if args[:2] == ("service", "inspect"):
            raise swarm.ClusterError("docker service failed (1): Error: No such service: x")
        return ps

    monkeypatch.setattr(swarm.docker_cli, "docker", fake)
    tasks = swarm.SwarmCluster().tasks("staging_nexus-crm")
    assert tasks.running == 1
    assert tasks.failures == ("task: non-zero exit (137): unhealthy container",)
    assert swarm.SwarmCluster().service_spec("x") is None
    swarm.SwarmCluster().update_image("p_crm", "reg/crm@sha256:" + "f" * 64)
    assert calls[-1] == (
        "service",
        "update",
        "--detach",
        "--image",
        "reg/crm@sha256:" + "f" * 64,
        "--update-failure-action",
        "rollback",
        "--no-resolve-image",
        "p_crm",
    )


@pytest.mark.integration
def test_staging_nginx_runs_the_rendered_config_and_refuses_a_broken_one(tmp_path: Path) -> None:
    import shutil
    import socket

    from nexus_ml.errors import ClusterError
    from nexus_ml.release.cluster import NginxProcess
    from nexus_ml.release.http import UrllibHttp

    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(binary):
        pytest.fail("nginx is not installed (scripts/services.sh up installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    plan = staging(nginx_listen=f"127.0.0.1:{port}", resolver="127.0.0.1")
    proxy = NginxProcess(binary, tmp_path / "nx")
    proxy.start(plan.nginx_text())
    try:
        answer = None
        for _ in range(50):
            answer = UrllibHttp(timeout_s=1).request("GET", plan.proxy_url + "/nginx-health")
            if answer.status == 200:
                break
            time.sleep(0.1)
        assert answer is not None and answer.status == 200
        # no staging module runs: nginx answers for them, with a gateway error
        assert UrllibHttp(timeout_s=5).request("GET", plan.proxy_url + "/crm/health").status == 502
    finally:
        proxy.stop()
    assert UrllibHttp(timeout_s=1).request("GET", plan.proxy_url + "/nginx-health").status == 0
    with pytest.raises(ClusterError, match="staging nginx config refused"):
        NginxProcess(binary, tmp_path / "bad").start("events {}\nhttp { server { listen x; } }\n")
