"""The real pieces of the deploy integration test: images, a registry, a stack, an nginx."""

from __future__ import annotations

import copy
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from nexus_ml.catalog import BUNDLED_CATALOG, Catalog
from nexus_ml.deploy.base_image import IMPORT_CHANGES, python_rootfs
from nexus_ml.deploy.docker_cli import build_image, docker, import_image, push_image
from nexus_ml.deploy.dockerfiles import write_module_context

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(what: str, check: Callable[[], T | None], timeout_s: float, every_s: float = 0.3) -> T:
    """``check()`` until it returns something truthy; fails with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(every_s)


def test_catalog(ports: dict[str, int], bad_crm_image: str | None = None) -> Catalog:
    """The bundled catalog on free loopback ports, with probes quick enough for a test.

    CRM updates stop-first: on the host network the tasks of a module share one port
    (``SO_REUSEPORT``), so with start-first a new task's probe could be answered by the old
    task and a failing release would not be seen reliably.
    """
    data = yaml.safe_load(BUNDLED_CATALOG.read_text())
    for module in data["modules"]:
        module["port"] = ports[module["name"]]
        # probed every second, but tolerant of a loaded 2-core machine: a slow start or probe
        # must not get healthy tasks killed (failures inside start_period do not count)
        module["health"] = {"interval_s": 1, "timeout_s": 3, "retries": 3, "start_period_s": 5}
        if module["name"] == "nexus-crm":
            module["update_order"] = "stop-first"
            if bad_crm_image:
                module["image"] = bad_crm_image
    return Catalog.model_validate(copy.deepcopy(data))


def build_and_push(workdir: Path, registry: str) -> dict[str, str]:
    """Base image, module image and a bad release of it; pushed. Image → digest."""
    base = f"{registry}/nexus-python:test"
    import_image(python_rootfs(workdir / "base.tar"), base, IMPORT_CHANGES)
    good = f"{registry}/nexus-module:1"
    build_image(write_module_context(workdir / "module"), good, {"BASE": base})
    bad_ctx = workdir / "bad"
    bad_ctx.mkdir()
    # a release whose /health fails: the same server, misconfigured
    (bad_ctx / "Dockerfile").write_text(f"FROM {good}\nENV MODULE_FAIL_HEALTH=1 MODULE_VERSION=2\n")
    bad = f"{registry}/nexus-module:2-bad"
    build_image(bad_ctx, bad)
    return {"nexus-module:1": push_image(good), "nexus-module:2-bad": push_image(bad)}


def stack_deploy(stack_file: Path, name: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # the nexus-ml services' required settings (placeholders: nothing connects to them)
        "NEXUS_PG_DSN": "postgresql://deploy-test@127.0.0.1:1/none",
        "NEXUS_API_TOKEN": "deploy-test-placeholder-token",
    }
    return subprocess.run(
        ["docker", "stack", "deploy", "--resolve-image", "never", "-c", str(stack_file), name],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def stack_rm(name: str, images: list[str]) -> None:
    """Remove the stack, then (once its containers are gone) the images the test made."""
    subprocess.run(["docker", "stack", "rm", name], capture_output=True, timeout=60)
    label = f"label=com.docker.stack.namespace={name}"
    try:
        poll(
            f"{name}'s containers gone",
            lambda: not docker("ps", "-aq", "--filter", label).strip(),
            60,
        )
    finally:  # vfs keeps a full copy per layer: leave no image behind on the shared engine
        subprocess.run(["docker", "rmi", "-f", *images], capture_output=True, timeout=60)


def inspect_service(name: str) -> dict[str, Any]:
    import json

    doc: list[dict[str, Any]] = json.loads(docker("service", "inspect", name))
    return doc[0]


def running_tasks(name: str) -> int:
    out = docker(
        "service", "ps", name, "--filter", "desired-state=running", "--format", "{{.CurrentState}}"
    )
    return sum(line.startswith("Running") for line in out.splitlines())


def http_get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return 0, {}, b""


def start_nginx(nginx: str, config: str, workdir: Path) -> subprocess.Popen[bytes]:
    (workdir / "tmp").mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(config, encoding="utf-8")
    return subprocess.Popen(
        [nginx, "-p", str(workdir), "-c", str(conf), "-e", "stderr", "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "nginx.log", "wb"),
    )
