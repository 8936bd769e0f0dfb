"""The rendered stack and nginx config of the bundled catalog, field by field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nexus_ml.catalog import load_catalog
from nexus_ml.cli.main import app
from nexus_ml.deploy import DeployOptions, render_nginx, render_stack, stack_document
from nexus_ml.deploy.policy import cpu_string, monitor_seconds

CATALOG = load_catalog()


def seconds(value: str) -> int:
    assert value.endswith("s"), value
    return int(value[:-1])


def test_each_module_carries_its_catalog_limits_replicas_port_and_labels() -> None:
    services = stack_document(CATALOG)["services"]
    for module in CATALOG:
        svc = services[module.name]
        deploy = svc["deploy"]
        assert deploy["replicas"] == module.min_replicas
        limits = deploy["resources"]["limits"]
        assert isinstance(limits["cpus"], str) and float(limits["cpus"]) == module.cpu_limit
        assert limits["memory"] == f"{round(module.memory_limit_gb * 1024)}M"
        reservations = deploy["resources"]["reservations"]
        assert 0 < float(reservations["cpus"]) <= module.cpu_limit
        assert svc["ports"] == [
            {"target": module.port, "published": module.port, "protocol": "tcp", "mode": "ingress"}
        ]
        assert deploy["labels"]["io.nexus-ml.module"] == module.name
        assert deploy["labels"]["io.nexus-ml.max-replicas"] == str(module.max_replicas)
        assert svc["image"] == f"docker.io/nexuserp/{module.image}"
    um = services["nexus-user-management"]["deploy"]
    assert um["resources"]["limits"] == {"cpus": "2", "memory": "4096M"}
    assert um["replicas"] == 2 and um["labels"]["io.nexus-ml.max-replicas"] == "8"
    ag = services["nexus-agendamento"]["deploy"]["resources"]["limits"]
    assert ag == {"cpus": "0.5", "memory": "1024M"}


def test_update_policy_rolls_back_and_monitors_past_the_healthcheck() -> None:
    services = stack_document(CATALOG)["services"]
    for name, svc in services.items():
        update = svc["deploy"]["update_config"]
        check = svc["healthcheck"]
        assert update["failure_action"] == "rollback", name
        worst = (
            seconds(check["start_period"])
            + seconds(check["interval"]) * check["retries"]
            + seconds(check["timeout"])
        )
        assert seconds(update["monitor"]) >= worst, name
        assert seconds(update["monitor"]) >= seconds(update["delay"]), name
        assert svc["deploy"]["rollback_config"]["order"] in ("start-first", "stop-first")
        assert svc["deploy"]["restart_policy"]["condition"] in ("any", "on-failure")
    assert services["nexus-crm"]["deploy"]["update_config"]["order"] == "start-first"


def test_monitor_is_at_least_the_delay_when_the_probe_is_quick() -> None:
    from nexus_ml.catalog import HealthCheck

    quick = HealthCheck(interval_s=1, timeout_s=1, retries=1, start_period_s=0)
    assert monitor_seconds(quick, delay_s=30) == 30
    assert monitor_seconds(HealthCheck(), delay_s=0) == 20 + 10 * 3 + 3


def test_nexus_ml_services_share_one_image_and_reach_each_other() -> None:
    options = DeployOptions(registry="127.0.0.1:5000", stack_name="erp")
    services = stack_document(CATALOG, options)["services"]
    images = {services[n]["image"] for n in ("decision", "executor", "retrain")}
    assert images == {"127.0.0.1:5000/nexus-ml:0.1.0"}
    assert services["executor"]["command"][-2:] == ["--prefix", "erp_"]
    assert services["executor"]["deploy"]["placement"]["constraints"] == ["node.role == manager"]
    assert services["retrain"]["deploy"]["restart_policy"]["condition"] == "on-failure"


def test_pinned_digests_replace_tags() -> None:
    digest = "sha256:" + "ab" * 32
    options = DeployOptions(registry="127.0.0.1:5000/t", digests={"nexus-module:1": digest})
    services = stack_document(CATALOG, options)["services"]
    assert services["nexus-crm"]["image"] == f"127.0.0.1:5000/t/nexus-module@{digest}"
    assert services["decision"]["image"] == "127.0.0.1:5000/t/nexus-ml:0.1.0"


def test_host_network_mode_binds_loopback_without_published_ports() -> None:
    options = DeployOptions(network="host", bind_address="127.0.0.1")
    doc = stack_document(CATALOG, options)
    crm = doc["services"]["nexus-crm"]
    assert "ports" not in crm and crm["networks"] == ["hostnet"]
    assert crm["environment"]["MODULE_BIND"] == "127.0.0.1"
    assert doc["networks"] == {"hostnet": {"external": True, "name": "host"}}
    nginx = render_nginx(CATALOG, options)
    assert "set $upstream_crm 127.0.0.1:5005;" in nginx


def test_nginx_has_one_location_per_module_resolved_at_request_time() -> None:
    text = render_nginx(CATALOG, DeployOptions(stack_name="erp"))
    assert "resolver 127.0.0.11 valid=5s ipv6=off;" in text
    for module in CATALOG:
        var = "$upstream_" + module.short_name.replace("-", "_")
        assert text.count(f"location /{module.short_name}/ {{") == 1
        assert f"set {var} tasks.erp_{module.name}:{module.port};" in text
        assert f"proxy_pass http://{var};" in text
    assert "proxy_next_upstream error timeout http_502 http_503 http_504;" in text


def test_rendering_is_byte_identical_and_yaml_reads_back() -> None:
    first, again = render_stack(CATALOG), render_stack(load_catalog())
    assert first == again
    assert render_nginx(CATALOG) == render_nginx(load_catalog())
    assert yaml.safe_load(first) == stack_document(CATALOG)


def test_cpu_strings() -> None:
    assert [cpu_string(x) for x in (2.0, 0.5, 0.125, 1 / 3, 0.0001)] == [
        "2",
        "0.5",
        "0.125",
        "0.333",
        "0.001",
    ]


def test_cli_prints_both_and_writes_them_with_out(tmp_path: Path) -> None:
    runner = CliRunner()
    printed = runner.invoke(app, ["stack", "render"])
    assert printed.exit_code == 0, printed.output
    assert render_stack(CATALOG) in printed.output and render_nginx(CATALOG) in printed.output
    out = tmp_path / "out"
    written = runner.invoke(app, ["stack", "render", "--out", str(out), "--build-context"])
    assert written.exit_code == 0, written.output
    assert (out / "stack.yml").read_text() == render_stack(CATALOG)
    assert (out / "nginx.conf").read_text() == render_nginx(CATALOG)
    assert (out / "images" / "nexus-module" / "Dockerfile").exists()
    assert (out / "images" / "nexus-module" / "nexus_module.py").exists()
    assert (out / "images" / "nexus-ml" / "Dockerfile").exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--network", "mesh"], "--network: expected overlay or host, got 'mesh'"),
        (["--build-context"], "--build-context needs --out DIR"),
        (["--stack-name", "Bad Name"], "--stack-name"),
        (["--catalog", "/nonexistent/modules.yaml"], "/nonexistent/modules.yaml"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(args: list[str], needle: str) -> None:
    result = CliRunner().invoke(app, ["stack", "render", *args])
    assert result.exit_code == 2
    assert needle in result.output and "Traceback" not in result.output


def test_committed_dockerfiles_are_the_rendered_ones() -> None:
    from nexus_ml.deploy.dockerfiles import DOCKERFILES

    root = Path(__file__).resolve().parents[2] / "deploy" / "images"
    for image, text in DOCKERFILES.items():
        assert (root / image / "Dockerfile").read_text() == text, image


def test_libyaml_and_pure_python_emitters_give_the_same_bytes() -> None:
    doc = stack_document(CATALOG, DeployOptions(network="host"))
    kwargs = {"sort_keys": False, "default_flow_style": False, "width": 4096}
    pure = yaml.dump(doc, Dumper=yaml.SafeDumper, allow_unicode=True, **kwargs)
    assert render_stack(CATALOG, DeployOptions(network="host")).endswith(pure)


def test_cli_host_network_runs_one_decision_service_on_loopback(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["stack", "render", "--network", "host", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    doc = yaml.safe_load((tmp_path / "stack.yml").read_text())
    decision = doc["services"]["decision"]
    assert decision["deploy"]["replicas"] == 1 and "127.0.0.1" in decision["command"]
    assert "listen 0.0.0.0:80;" in (tmp_path / "nginx.conf").read_text()


def test_decision_probe_runs_with_python_alone_and_fails_when_unhealthy() -> None:
    import subprocess
    import sys
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    from nexus_ml.deploy.policy import python_probe

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        # the image is python:3.11-slim, which has no wget: the probe needs only python3
        test = stack_document(CATALOG)["services"]["decision"]["healthcheck"]["test"]
        assert test[:2] == ["CMD", "python3"]
        ok, sick = python_probe(port, "/healthz"), python_probe(port, "/sick")
        assert subprocess.run([sys.executable, *ok[2:]], capture_output=True).returncode == 0
        assert subprocess.run([sys.executable, *sick[2:]], capture_output=True).returncode != 0
    finally:
        server.shutdown()
