"""Issue 19: ``nexus-ml serve --workers 2`` without ``NEXUS_API_TOKEN``: one token for both."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_two_workers_accept_the_token_in_the_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    env |= {
        "NEXUS_CONFIG": str(tmp_path / "absent.yaml"),
        "NEXUS_STATE_DIR": str(tmp_path / "state"),
        "PYTHONPATH": str(ROOT),
    }
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = subprocess.Popen(
        [
            *(sys.executable, "-c", "from nexus_ml.cli.main import main; main()"),
            *("serve", "--port", str(port), "--workers", "2"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        ready = 0
        while time.monotonic() < deadline and ready < 10:  # both workers up and answering
            try:
                ready += httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                time.sleep(0.3)
        assert ready == 10, "the service did not start"
        token = (tmp_path / "state" / "api-token").read_text()
        statuses = [
            # a new connection each time, so that both workers answer some
            httpx.get(
                f"{base}/v1/rollback-analysis", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            for _ in range(60)
        ]
        assert statuses.count(405) == 60, statuses  # authenticated (GET on a POST route)
    finally:
        os.killpg(serve.pid, 15)
        serve.wait(30)
