"""Fixtures of the dashboard tests: Debian's Chromium (installed when missing) and a live server.

Playwright cannot download its own browsers here, so it drives ``/usr/bin/chromium`` from
Debian's package; the fixture installs the package with apt when it is missing (CI runs as root
on a fresh machine).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from tests.conftest import ROOT, services_required

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / "tmp" / "out" / "dashboard"


def _install_chromium() -> str | None:
    """Install Debian's chromium; the reason when that is impossible."""
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        return "chromium is missing and apt-get (as root) is not available to install it"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    steps = (
        ["apt-get", "update", "-q"],
        [
            "apt-get",
            "install",
            "-o",
            "DPkg::Lock::Timeout=300",  # another install may hold the lock for a while
            "-y",
            "-q",
            "--no-install-recommends",
            "chromium",
            "fonts-dejavu-core",
        ],
    )
    for step in steps:
        done = subprocess.run(step, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(step)} failed: {done.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not CHROMIUM.exists():
        problem = _install_chromium()
        if problem or not CHROMIUM.exists():
            message = problem or f"{CHROMIUM} not found after installing chromium"
            if services_required():
                pytest.fail(message)
            pytest.skip(message)
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    # per module, not per session: Playwright's sync API runs an event loop in this thread
    # for as long as it is started, and asyncio.run() in later tests would refuse to run
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """A uvicorn server of ``app`` on loopback, in a thread."""

    app: FastAPI
    url: str
    server: uvicorn.Server
    thread: threading.Thread


def serve(app: FastAPI) -> LiveServer:
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dashboard-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard test server did not start")
        time.sleep(0.02)
    return LiveServer(app, f"http://127.0.0.1:{port}", server, thread)


def stop(live: LiveServer) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=10)
