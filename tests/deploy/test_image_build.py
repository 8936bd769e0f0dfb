"""The nexus-ml image, built offline, pushed to the registry and run from it by digest.

Needs the services of scripts/services.sh: Docker Engine with a single-node Swarm
(``DOCKER_HOST``), the registry on loopback (``NEXUS_TEST_REGISTRY``), and the Prometheus and
MLflow the decision service reads. The decision service is the rendered stack's own entry
(command, environment, healthcheck, limits), deployed alone with ``docker stack deploy`` on
the host network, on a free loopback port instead of 8000 (the machine is shared). The
executor and the retraining job are checked through their rendered commands with ``--help``:
the image starts them and knows every option the stack passes (``--help`` after an unknown
option exits 2). Their real work is tested elsewhere against the same code.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from nexus_ml.catalog.loader import load_catalog
from nexus_ml.deploy import DeployOptions, stack_document
from nexus_ml.deploy.docker_cli import docker, push_image, registry_digest
from nexus_ml.deploy.image_build import ImageBuild, build_nexus_ml_image
from nexus_ml.deploy.image_context import MANIFEST
from nexus_ml.deploy.stack import DECISION_PORT
from tests.conftest import require_env
from tests.deploy import swarm_harness as h

pytestmark = [pytest.mark.integration, pytest.mark.slow]
#: The heavy imports of serve, execute and retrain: every extension module finds its libraries.
IMPORTS = "import sklearn.ensemble, statsmodels.api, scipy.stats, pandas, pyarrow.parquet, "
IMPORTS += "mlflow, psycopg, fastapi, uvicorn, docker, prometheus_api_client, nexus_ml.cli.main"
#: Every distribution the image's list names is installed in it, at that version.
INSTALLED = f"""
import importlib.metadata as md, re
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
have = {{norm(d.metadata["Name"]): d.version for d in md.distributions()}}
want = dict(line.split("==") for line in open("{MANIFEST}").read().split())
missing = set(want.items()) - set(have.items())
assert want and not missing, missing
print("deps", len(want), "nexus-ml", have["nexus-ml"])
"""


@dataclass
class Built:
    build: ImageBuild
    registry: str
    namespace: str
    digest: str
    options: DeployOptions
    seconds_push: float

    @property
    def by_digest(self) -> str:
        return self.options.image_ref(self.options.nexus_ml_image)


@pytest.fixture(scope="module")
def image(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    registry = require_env("NEXUS_TEST_REGISTRY", "the Docker registry on loopback")
    namespace = f"t14img-{uuid.uuid4().hex[:6]}"
    name = DeployOptions().nexus_ml_image  # what the stack names: nexus-ml:<version>
    ref = f"{registry}/{namespace}/{name}"
    try:
        build = build_nexus_ml_image(tmp_path_factory.mktemp("image"), ref)
        t0 = time.perf_counter()
        digest = push_image(ref)
        pushed = time.perf_counter() - t0
        options = DeployOptions(
            registry=f"{registry}/{namespace}",
            digests={name: digest},
            stack_name=namespace,
            network="host",
            bind_address="127.0.0.1",
            decision_replicas=1,
            reservation_fraction=0.05,
            stop_grace_period_s=1,
        )
        yield Built(build, registry, namespace, digest, options, pushed)
    finally:
        # the local base stays, tagged with the hash of its contents: the engine's cache of
        # this environment (the next build on this engine reuses it and takes seconds)
        subprocess.run(["docker", "rmi", "-f", ref], capture_output=True, timeout=120)


def test_the_image_is_built_offline_and_pushed(image: Built) -> None:
    build = image.build
    # what the registry serves is what the engine pushed
    repo, tag = f"{image.namespace}/nexus-ml", image.options.nexus_ml_image.split(":")[1]
    assert registry_digest(f"http://{image.registry}", repo, tag) == image.digest
    # the base was made here from this interpreter (now or by an earlier build), not pulled
    assert build.base.startswith("nexus-python:3.11-")
    base = json.loads(docker("image", "inspect", build.base))[0]
    # one layer made by docker import; no registry ever served it
    assert base["RepoDigests"] == [] and len(docker("history", "-q", build.base).split()) == 1
    assert build.distributions > 50
    history = docker("history", "--format", "{{.CreatedBy}}|{{.Size}}", build.ref).splitlines()
    # the base (Python and the dependencies), the list of the dependencies, then nexus-ml
    # itself in a layer of its own (a code change rebuilds only that one); then metadata
    layers = [line for line in history if not line.endswith("|0B")]
    assert len(layers) == 3 and all("COPY dir:" in line for line in layers[:2]), history
    assert layers[2].startswith("|")  # the imported base: no instruction made it
    size = int(docker("image", "inspect", "--format", "{{.Size}}", build.ref))
    print(  # the figures of the report (pytest -s shows them)
        f"\nnexus-ml image: {size / 1e6:.0f} MB; build {build.total_seconds:.1f} s "
        f"({', '.join(f'{k} {v:.1f} s' for k, v in build.seconds.items())}); "
        f"push {image.seconds_push:.1f} s; base {'imported' if build.base_imported else 'reused'}"
    )


def test_the_jobs_start_and_accept_the_stack_commands(image: Built) -> None:
    services = stack_document(load_catalog(), image.options)["services"]
    commands = [
        services["executor"]["healthcheck"]["test"][1:],  # the jobs' probe: nexus-ml --help
        [*services["executor"]["command"], "--help"],
        [*services["retrain"]["command"], "--help"],
        ["python3", "-c", IMPORTS],
        ["python3", "-c", INSTALLED],
    ]
    for name in ("executor", "retrain"):
        assert services[name]["image"] == image.by_digest
    script = " && ".join(f"{shlex.join(c)} && echo '<<ok>>'" for c in commands)
    proc = subprocess.run(
        ["docker", "run", "--rm", "--network", "none", image.by_digest, "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("<<ok>>") == len(commands)
    assert "nexus-ml execute" in proc.stdout and "--backend" in proc.stdout
    assert "nexus-ml retrain" in proc.stdout and "--cron" in proc.stdout
    assert f"deps {image.build.distributions} nexus-ml 0.1.0" in proc.stdout


def _decision_stack(image: Built, port: int) -> dict[str, Any]:
    """The rendered stack's decision service alone, on ``port``."""
    doc = stack_document(load_catalog(), image.options)
    decision = doc["services"]["decision"]
    assert decision["image"] == image.by_digest
    command, probe = decision["command"], decision["healthcheck"]["test"]
    assert command[-2:] == ["--port", str(DECISION_PORT)]
    command[-1] = str(port)
    old = f"127.0.0.1:{DECISION_PORT}/"
    assert old in probe[-1]
    probe[-1] = probe[-1].replace(old, f"127.0.0.1:{port}/")
    return {
        "version": doc["version"],
        "services": {"decision": decision},
        "networks": doc["networks"],
    }


def _health(service: str) -> str | None:
    ids = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={service}")
    if not ids.split():
        return None
    state = json.loads(docker("inspect", "--format", "{{json .State}}", ids.split()[0]))
    return str(state.get("Health", {}).get("Status"))


def test_the_decision_service_runs_from_the_registry_by_digest(
    image: Built, tmp_path: Path, prometheus_url: str, mlflow_uri: str
) -> None:
    port, token = h.free_port(), secrets.token_urlsafe(32)
    stack_file = tmp_path / "decision.yml"
    stack_file.write_text(yaml.safe_dump(_decision_stack(image, port), sort_keys=False))
    env = {
        **os.environ,
        "NEXUS_PROMETHEUS_URL": prometheus_url,
        "NEXUS_MLFLOW_TRACKING_URI": mlflow_uri,
        # read by the executor and the retraining job, not by the service: a placeholder
        "NEXUS_PG_DSN": "postgresql://image-test@127.0.0.1:1/none",
        "NEXUS_API_TOKEN": token,
    }
    stack = image.namespace
    service = f"{stack}_decision"
    try:
        proc = subprocess.run(
            ["docker", "stack", "deploy", "--resolve-image", "never", "-c", str(stack_file), stack],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        spec = h.inspect_service(service)["Spec"]["TaskTemplate"]["ContainerSpec"]
        assert spec["Image"] == image.by_digest
        # the rendered healthcheck, run by the engine inside the image, passes
        h.poll(f"{service} healthy", lambda: _health(service) == "healthy", timeout_s=120)
        status, _, body = h.http_get(f"http://127.0.0.1:{port}/healthz")
        assert status == 200 and json.loads(body) == {"status": "ok"}
        assert h.http_get(f"http://127.0.0.1:{port}/v1/decisions")[0] == 401
        req_status, body = _get_with_token(f"http://127.0.0.1:{port}/v1/decisions", token)
        assert req_status == 200, body[:500]
        decisions = json.loads(body)["decisions"]
        # the catalog inside the image (package data) names the modules
        assert {d["module"] for d in decisions} == {m.name for m in load_catalog()}
    finally:
        h.stack_rm(stack, [])


def _get_with_token(url: str, token: str) -> tuple[int, bytes]:
    import urllib.request

    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return int(resp.status), bytes(resp.read())
