"""The Swarm stack file: every service command parses with the real CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main
import yaml

from nexus_ml.cli.main import app
from pipelines.retrain import Cron

STACK = Path(__file__).resolve().parents[2] / "deploy" / "swarm" / "nexus-ml-stack.yml"
SERVICES = yaml.safe_load(STACK.read_text())["services"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_service_command_parses(name: str) -> None:
    argv = SERVICES[name]["command"]
    assert argv[0] == "nexus-ml"
    group = typer.main.get_command(app)
    with group.make_context("nexus-ml", [], resilient_parsing=True) as ctx:
        command = group.get_command(ctx, argv[1])
        assert command is not None, f"no verb {argv[1]!r}"
        # Raises click.UsageError / BadParameter on an unknown option or a bad value.
        command.make_context(argv[1], list(argv[2:]), parent=ctx)


def test_retrain_service_is_single_scheduled_and_locked() -> None:
    retrain = SERVICES["retrain"]
    argv = retrain["command"]
    Cron(argv[argv.index("--cron") + 1])  # a valid expression
    assert "--pg-lock" in argv and "--once" not in argv
    assert retrain["deploy"]["replicas"] == 1
    assert retrain["deploy"]["restart_policy"]["condition"] == "on-failure"
    assert any(v.endswith(":/var/lib/nexus-ml") for v in retrain["volumes"])
