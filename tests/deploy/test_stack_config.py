"""The Docker CLI's own Compose v3 loader accepts every rendering (``docker stack config``).

``docker stack deploy`` validates a stack file with this loader before it sends anything to the
Engine: unknown keys and numbers where strings belong are rejected. The production rendering
(overlay network, routing-mesh ports) cannot run on the test Swarm (no IPVS), so it is checked
here without deploying; the host-network rendering is deployed for real in
``test_swarm_deploy.py``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.deploy import DeployOptions, render_stack
from tests.deploy.strategies import catalogs

pytestmark = pytest.mark.integration

ENV = {**os.environ, "NEXUS_PG_DSN": "postgresql://placeholder", "NEXUS_API_TOKEN": "placeholder"}


def stack_config(text: str, path: Path) -> subprocess.CompletedProcess[str]:
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        ["docker", "stack", "config", "-c", str(path)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )


@pytest.mark.parametrize("network", ["overlay", "host"])
def test_bundled_catalog_stack_passes_the_cli_loader(
    docker_host: str, tmp_path: Path, network: str
) -> None:
    proc = stack_config(
        render_stack(load_catalog(), DeployOptions(network=network)), tmp_path / "s.yml"
    )
    assert proc.returncode == 0, proc.stderr
    assert "nexus-crm:" in proc.stdout and "failure_action: rollback" in proc.stdout


@pytest.mark.parametrize(
    ("rendered", "broken", "message"),
    [
        ("cpus: '2'", "cpus: 2", "limits.cpus must be a string"),
        ("delay: 10s", "delay: 10", "update_config.delay must be a string"),
        (
            "failure_action: rollback",
            "failure_action: rollback\n        on_failure: x",
            "on_failure",
        ),
    ],
)
def test_the_loader_rejects_what_the_renderer_avoids(
    docker_host: str, tmp_path: Path, rendered: str, broken: str, message: str
) -> None:
    text = render_stack(load_catalog())
    assert rendered in text
    proc = stack_config(text.replace(rendered, broken, 1), tmp_path / "bad.yml")
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr


# one CLI process per example (~0.1 s): fewer examples than the pure property tests
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(catalog=catalogs(), network=st.sampled_from(["overlay", "host"]))
def test_random_catalog_stacks_pass_the_cli_loader(
    docker_host: str, tmp_path: Path, catalog: Catalog, network: str
) -> None:
    proc = stack_config(render_stack(catalog, DeployOptions(network=network)), tmp_path / "r.yml")
    assert proc.returncode == 0, proc.stderr
