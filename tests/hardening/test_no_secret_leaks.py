"""Issue 19: set every secret, run the CLI and the service as real processes, and grep all
they print, log and answer for those secrets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import ROOT

API_TOKEN = "ApiT0ken-9f8e7d6c5b4a39281706"
PG_PASSWORD = "PgPassw0rd-Zq81x"
PROM_PASSWORD = "Pr0mPass-Kx72w"
BOT_TOKEN = "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOpp"
SECRETS = (API_TOKEN, PG_PASSWORD, PROM_PASSWORD, BOT_TOKEN)
NEXUS = [sys.executable, "-c", "from nexus_ml.cli.main import main; main()"]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    return {
        **env,
        "NEXUS_CONFIG": str(tmp / "absent.yaml"),
        "NEXUS_STATE_DIR": str(tmp / "state"),
        "NEXUS_API_TOKEN": API_TOKEN,
        "NEXUS_PG_DSN": f"postgresql://nexus:{PG_PASSWORD}@127.0.0.1:1/erp",
        "NEXUS_PROMETHEUS_URL": f"http://admin:{PROM_PASSWORD}@127.0.0.1:9",
        "NEXUS_PROMETHEUS_TIMEOUT_S": "1",
        "NEXUS_TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "NEXUS_TELEGRAM_CHAT_ID": "42",
        "NEXUS_TELEGRAM_BASE_URL": "http://127.0.0.1:9",
        "PYTHONPATH": str(ROOT),
    }


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text or quote(s, safe="") in text]


@pytest.mark.slow
def test_no_secret_in_any_output_of_cli_runs_or_the_service(tmp_path: Path) -> None:
    env = _env(tmp_path)
    seen: list[str] = []
    for args in (
        ["-v", "modules"],
        ["-v", "metrics", "fetch", "--module", "crm", "--since", "1h", "--out", "m.csv"],
        ["-v", "audit", "--since", "1h"],
        ["-v", "migrate", "status"],
        ["-v", "migrate", "all-modules", "--dsn", f"postgresql://u:{PG_PASSWORD}%ZZ@h/db"],
        ["-v", "migrate", "status", "--dsn", f"postgresql://u:{PG_PASSWORD}@[::1/db"],
        ["-v", "execute", "--once", "--backend", "memory"],
    ):
        done = subprocess.run(
            [*NEXUS, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        if args[1] != "execute":  # the executor logs its audit-write failures with a traceback
            assert "Traceback" not in done.stderr, (args, done.stderr[-1500:])
        seen.append(f"{done.stdout}\n{done.stderr}")  # not the command line: it holds them

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    serve = subprocess.Popen(
        [*NEXUS, "-v", "serve", "--port", str(port), "--no-poll-models"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {API_TOKEN}"}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.3)
        answers = [
            httpx.get(f"{base}/v1/decisions", headers=auth, timeout=30),  # Prometheus down: 503
            httpx.post(f"{base}/v1/decisions", headers=auth, json={"module": "crm"}, timeout=30),
            httpx.post(f"{base}/v1/decisions", headers=auth, content=b"{", timeout=30),
            httpx.get(f"{base}/v1/decisions", headers={"Authorization": "Bearer x"}, timeout=30),
            httpx.get(f"{base}/readyz", timeout=30),
            httpx.get(f"{base}/metrics", timeout=30),
        ]
        assert answers[0].status_code == 503, answers[0].text
        seen += [f"{r.status_code} {r.headers} {r.text}" for r in answers]
    finally:
        serve.terminate()
        seen.append(serve.communicate(timeout=30)[0])
    everything = "\n".join(seen)
    assert "***" in everything  # there was something to mask, and it was masked
    assert _leaks(everything) == [], [chunk[:3000] for chunk in seen if _leaks(chunk)]
