"""Fixtures of the deploy tests: the Compose Spec schema from a published package, nginx."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import services_required

#: The Compose Spec as shipped in PyPI's docker-compose 1.29.2 wheel (never written by hand).
COMPOSE_WHEEL = "docker-compose==1.29.2"
SCHEMA_MEMBER = "compose/config/compose_spec.json"
CACHE = Path(os.environ.get("NEXUS_TEST_CACHE", Path.home() / ".cache" / "nexus-ml-tests"))


def _unavailable(message: str) -> None:
    if services_required():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def compose_spec() -> dict[str, Any]:
    """``compose_spec.json`` read from the downloaded wheel (cached between runs)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    wheels = sorted(CACHE.glob("docker_compose-1.29.2-*.whl"))
    if not wheels:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                COMPOSE_WHEEL,
                "--no-deps",
                "-q",
                "-d",
                str(CACHE),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        wheels = sorted(CACHE.glob("docker_compose-1.29.2-*.whl"))
        if proc.returncode != 0 or not wheels:
            _unavailable(f"cannot download {COMPOSE_WHEEL}: {proc.stderr.strip()[-300:]}")
    with zipfile.ZipFile(wheels[0]) as wheel:
        schema: dict[str, Any] = json.loads(wheel.read(SCHEMA_MEMBER))
    return schema


@pytest.fixture(scope="session")
def nginx_binary() -> str:
    """The real nginx (Debian ``nginx``, installed by scripts/services.sh)."""
    path = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if path is None:
        _unavailable("nginx is not installed (scripts/services.sh up installs it)")
    assert path is not None
    return path


def nginx_check(nginx: str, config_text: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on ``config_text`` with its runtime files under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(config_text, encoding="utf-8")
    return subprocess.run(
        [nginx, "-t", "-q", "-p", str(workdir), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
