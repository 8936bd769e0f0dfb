"""deploy/prometheus: config and rule files pass promtool, and the rules compute what we claim."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.ingest.conftest import need_binary

DEPLOY = Path(__file__).parents[2] / "deploy/prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = need_binary("promtool")
    return subprocess.run([tool, *args], capture_output=True, text=True, cwd=DEPLOY, timeout=60)


def test_rule_files_are_valid() -> None:
    proc = _promtool("check", "rules", "rules/nexus-recording.yml", "rules/nexus-alerts.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_config_is_valid_and_discovers_swarm_services() -> None:
    proc = _promtool("check", "config", "prometheus.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    sd = [j for j in config["scrape_configs"] if "dockerswarm_sd_configs" in j]
    roles = {c["role"] for j in sd for c in j["dockerswarm_sd_configs"]}
    assert {"tasks", "nodes"} <= roles


def test_recording_and_alerting_rules_unit_tests() -> None:
    # rules_test.yml: recorded values in frame units; the seed's alerts fire after their `for`
    proc = _promtool("test", "rules", "tests/rules_test.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


def test_alerts_carry_routing_labels() -> None:
    groups = yaml.safe_load((DEPLOY / "rules/nexus-alerts.yml").read_text())["groups"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    triggers = {(a["labels"]["module"], a["for"]) for a in alerts}
    assert triggers == {
        ("nexus-user-management", "5m"),
        ("nexus-agendamento", "10m"),
        ("nexus-crm", "1m"),
    }
    assert all(a["labels"]["severity"] for a in alerts)
    route = yaml.safe_load((DEPLOY / "alertmanager.yml").read_text())["route"]
    assert "module" in route["group_by"]


def test_alertmanager_config_is_valid() -> None:
    tool = need_binary("amtool")
    proc = subprocess.run(
        [tool, "check-config", "alertmanager.yml"],
        capture_output=True,
        text=True,
        cwd=DEPLOY,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
