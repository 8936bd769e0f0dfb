"""A rule fires in the real Prometheus, a real Alertmanager running the deploy's routing
(``deploy/prometheus/alertmanager.yml``) delivers it with the bearer token to the real decision
service under uvicorn, and the service answers with a decision for the module.

The shared Alertmanager's receivers are not ours to change, so the test starts its own
Alertmanager process and registers it with the shared Prometheus through the alertmanager
file_sd directory (``NEXUS_TEST_PROM_ALERTMANAGERS_DIR``, see ``scripts/services.sh``).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from nexus_ml.catalog import load_catalog
from nexus_ml.ingest.frame_source import FrameSource
from service.app import create_app
from service.core.config import ServiceSettings
from tests.conftest import ROOT, require_env
from tests.hardening.conftest import LiveServer
from tests.service.fakes import NOW, TOKEN, MemoryStore, steady_frame

pytestmark = pytest.mark.integration

DEPLOY_AM = ROOT / "deploy" / "prometheus" / "alertmanager.yml"
ROUTE = "/v1/alerts/alertmanager"


class Recorder:
    """ASGI middleware: what the alert intake received (auth scheme) and answered."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.exchanges: list[dict[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != ROUTE:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        exchange: dict[str, Any] = {
            "auth_scheme": headers.get(b"authorization", b"").split(b" ")[0].decode(),
            "status": None,
            "body": b"",
        }

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                exchange["status"] = message["status"]
            elif message["type"] == "http.response.body":
                exchange["body"] += message.get("body", b"")
            await send(message)

        await self.app(scope, receive, capture)
        self.exchanges.append(exchange)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(what: str, check: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


def am_config_for(service_url: str, token_file: Path) -> dict[str, Any]:
    """The deploy's Alertmanager config pointed at the test service and token file.

    Only the host, the secret's path and the grouping waits (30 s → 1 s) change; the route,
    the path and the authorization scheme are the deploy file's own.
    """
    config = yaml.safe_load(DEPLOY_AM.read_text(encoding="utf-8"))
    config["route"].update(group_wait="1s", group_interval="1s")
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            assert hook["url"] == f"http://decision:8000{ROUTE}", hook["url"]
            auth = hook["http_config"]["authorization"]
            assert auth["type"] == "Bearer" and "credentials" not in auth
            hook["url"] = f"{service_url}{ROUTE}"
            auth["credentials_file"] = str(token_file)
    return config


@pytest.fixture
def service() -> Iterator[tuple[LiveServer, Recorder]]:
    catalog = load_catalog()
    settings = ServiceSettings(
        api_token=TOKEN, prometheus_url=None, mlflow_tracking_uri=None, decision_cache_s=0.0
    )
    app = create_app(
        settings,
        catalog=catalog,
        metric_source=FrameSource(steady_frame(catalog)),
        model_store=MemoryStore(),  # type: ignore[arg-type]  # no champion: the seed's rules
        clock=lambda: NOW,
        poll_models=False,
    )
    recorder = Recorder(app)
    server = LiveServer(recorder).start()  # type: ignore[arg-type]
    yield server, recorder
    server.stop()


@pytest.fixture
def alertmanager(
    service: tuple[LiveServer, Recorder], tmp_path: Path
) -> Iterator[tuple[str, Recorder]]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        require_env("NEXUS_TEST_NO_SUCH_VARIABLE", "the prometheus-alertmanager binary")
    am_dir = Path(require_env("NEXUS_TEST_PROM_ALERTMANAGERS_DIR", "Prometheus alertmanager sd"))
    server, recorder = service
    token_file = tmp_path / "nexus_api_token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    config = tmp_path / "am.yml"
    config.write_text(yaml.safe_dump(am_config_for(server.url, token_file)))
    port = free_port()
    proc = subprocess.Popen(
        [
            str(binary),
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "am.log").open("wb"),
    )
    sd_file = am_dir / f"h13-{uuid.uuid4().hex[:8]}.json"
    try:
        wait_until(
            "our Alertmanager to be ready",
            lambda: _ok(f"http://127.0.0.1:{port}/-/ready"),
            timeout_s=20,
        )
        sd_file.write_text(json.dumps([{"targets": [f"127.0.0.1:{port}"]}]))
        # Prometheus sends an alert when it starts firing, then only every minute: make sure it
        # knows our Alertmanager before any rule fires
        prometheus_url = require_env("NEXUS_PROMETHEUS_URL", "Prometheus")
        wait_until(
            "Prometheus to discover our Alertmanager",
            lambda: (
                f"127.0.0.1:{port}/"
                in httpx.get(f"{prometheus_url}/api/v1/alertmanagers", timeout=5).text
            ),
            timeout_s=30,
        )
        yield f"http://127.0.0.1:{port}", recorder
    finally:
        sd_file.unlink(missing_ok=True)
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def firing_rule(prometheus_url: str, alertmanager: tuple[str, Recorder]) -> Iterator[str]:
    """A rule that fires 10 s after the reload: a reload restarts Prometheus' discovery of
    Alertmanagers, and an alert is sent when it starts firing (then once a minute), so it must
    start firing after our Alertmanager is known again."""
    rules_dir = Path(require_env("NEXUS_TEST_PROM_RULES_DIR", "Prometheus rules directory"))
    name = f"NexusTestRequestsHigh{uuid.uuid4().hex[:8]}"
    rules = {
        "groups": [
            {
                "name": name,
                "rules": [
                    {
                        "alert": name,
                        "expr": "vector(250)",  # stands for nexus:requests_per_min > 100
                        "for": "10s",
                        "labels": {
                            "module": "nexus-crm",
                            "severity": "warning",
                            "trigger": "requests_per_min",
                        },
                        "annotations": {"summary": "nexus-crm above 100 requests/min"},
                    }
                ],
            }
        ]
    }
    path = rules_dir / f"{name}.yml"
    path.write_text(yaml.safe_dump(rules))
    httpx.post(f"{prometheus_url}/-/reload", timeout=10).raise_for_status()
    am_host = alertmanager[0].removeprefix("http://")
    wait_until(
        "Prometheus to rediscover our Alertmanager after the reload",
        lambda: (
            f"{am_host}/" in httpx.get(f"{prometheus_url}/api/v1/alertmanagers", timeout=5).text
        ),
        timeout_s=8,
    )
    try:
        yield name
    finally:
        path.unlink(missing_ok=True)
        httpx.post(f"{prometheus_url}/-/reload", timeout=10)


def test_a_prometheus_alert_reaches_the_service_and_becomes_a_decision(
    prometheus_url: str, alertmanager: tuple[str, Recorder], firing_rule: str
) -> None:
    am_url, recorder = alertmanager
    started = time.monotonic()

    def prometheus_fires() -> bool:
        alerts = httpx.get(f"{prometheus_url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return any(
            a["labels"].get("alertname") == firing_rule and a["state"] == "firing" for a in alerts
        )

    wait_until("Prometheus to fire the rule", prometheus_fires, timeout_s=40)

    def delivered() -> dict[str, Any] | None:
        for exchange in recorder.exchanges:
            body = json.loads(exchange["body"] or b"{}")
            for d in body.get("decisions", []):
                if any(firing_rule in e["detail"] for e in d["explanation"]):
                    return {**exchange, "decision": d}
        return None

    try:
        got = wait_until("Alertmanager to deliver to the service", delivered, timeout_s=60)
    except AssertionError:
        seen = httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json()
        statuses = [(e["status"], e["auth_scheme"], e["body"][:300]) for e in recorder.exchanges]
        raise AssertionError(
            f"not delivered; our Alertmanager holds {seen}; intake saw {statuses}"
        ) from None
    assert got["auth_scheme"] == "Bearer" and got["status"] == 200
    decision = got["decision"]
    assert decision["module"] == "nexus-crm" and decision["alert_admin"] is True
    assert decision["action"] in {"alert", "scale_up", "restart", "rollback", "scale_down"}
    assert decision["policy"] == "rules"
    # Alertmanager saw the alert and reports it delivered to our receiver
    ours = httpx.get(f"{am_url}/api/v2/alerts", timeout=5).json()
    assert any(a["labels"]["alertname"] == firing_rule for a in ours)
    print(f"Prometheus rule → Alertmanager → service: {time.monotonic() - started:.1f} s")
