"""Issue 19, service: bounded metric labels, one dev token for every worker, strong prod tokens,
credentials masked in 503 bodies and logs, and a body read timeout."""

from __future__ import annotations

import logging
import multiprocessing
import socket
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from nexus_ml.catalog import Catalog
from nexus_ml.ingest.prometheus_source import PrometheusSource
from service.core.config import ServiceSettings
from service.core.security import resolve_token
from tests.hardening.conftest import LiveServer, build_app
from tests.service.conftest import make_app
from tests.service.fakes import AUTH, TOKEN, MemoryStore

SECRET = "pr0m-S3cret-xy"


def test_metrics_labels_stay_bounded(tmp_path: Path, hard_catalog: Catalog) -> None:
    with TestClient(build_app(tmp_path, hard_catalog), raise_server_exceptions=False) as c:
        c.get("/v1/decisions", headers=AUTH)
        for i in range(300):
            c.request(f"X{i}", f"/made-up/{i}")
            c.request(f"Y{i}", "/metrics")
        text = c.get("/metrics").text
    series = [
        ln for ln in text.splitlines() if ln.startswith("nexus_service_request_seconds_count")
    ]
    assert len(series) < 10, series
    assert all("X1" not in ln and "made-up" not in ln for ln in series)
    assert any('method="other"' in ln and 'route="other"' in ln for ln in series)
    assert any('method="GET"' in ln and 'route="/v1/decisions"' in ln for ln in series)


def _token(state_dir: str, queue: multiprocessing.Queue[str]) -> None:
    queue.put(resolve_token(ServiceSettings(api_token=None, state_dir=Path(state_dir))))


def test_workers_without_a_token_share_one(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_token, args=(str(tmp_path), queue)) for _ in range(8)]
    for p in procs:
        p.start()
    tokens = {queue.get(timeout=30) for _ in procs}
    for p in procs:
        p.join(10)
    assert tokens == {(tmp_path / "api-token").read_text()}
    assert (tmp_path / "api-token").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    "weak", [" " * 32, "a" * 32, "ab" * 16, "changeme-changeme-123456", "short"]
)
def test_prod_rejects_weak_tokens(tmp_path: Path, weak: str) -> None:
    with pytest.raises(ValidationError, match="api_token") as err:
        ServiceSettings(environment="prod", api_token=weak, state_dir=tmp_path)
    assert weak.strip() == "" or weak not in str(err.value)  # the value is never quoted


def test_prometheus_credentials_never_reach_responses_or_logs(
    tmp_path: Path, hard_catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://admin:{SECRET}@127.0.0.1:9"
    settings = ServiceSettings(api_token=TOKEN, state_dir=tmp_path, prometheus_url=url)
    source = PrometheusSource(url, timeout_s=1)
    app = make_app(settings, hard_catalog, source, MemoryStore())
    caplog.set_level(logging.INFO)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/v1/decisions", headers=AUTH)
    assert r.status_code == 503 and SECRET not in r.text and "***@127.0.0.1" in r.text
    assert "http.request_failed" in caplog.text and SECRET not in caplog.text


def test_a_slow_body_is_408_within_the_timeout(live_server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/decisions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: {AUTH['Authorization']}\r\n".encode()
            + b'Content-Length: 100\r\n\r\n{"mod'
        )
        t0 = time.monotonic()
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert time.monotonic() - t0 < 5  # the live server's timeout is 1 s
