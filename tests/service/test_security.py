"""Bearer token on /v1, bounded bodies, and errors that never leak internals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from nexus_ml.catalog import Catalog
from nexus_ml.errors import IngestError
from nexus_ml.ingest.source import MetricFetch
from service.core.config import ServiceSettings
from tests.service.conftest import make_app
from tests.service.fakes import AUTH, TOKEN, MemoryStore

V1 = [
    ("GET", "/v1/decisions", None),
    ("POST", "/v1/decisions", {"module": "crm"}),
    ("POST", "/v1/forecast", {"module": "crm"}),
    ("POST", "/v1/anomalies", {"module": "crm"}),
    ("POST", "/v1/rollback-analysis", {"failed_module": "crm", "error_type": "UI_BUG"}),
    ("POST", "/v1/alerts/alertmanager", {"status": "firing", "alerts": []}),
]


@pytest.mark.parametrize(("method", "path", "body"), V1)
def test_v1_without_token_is_401_and_with_a_wrong_one_403(
    client: TestClient, method: str, path: str, body: object
) -> None:
    missing = client.request(method, path, json=body)
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    wrong = client.request(method, path, json=body, headers={"Authorization": f"Bearer {TOKEN}x"})
    assert wrong.status_code == 403
    basic = client.request(method, path, json=body, headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.status_code == 401
    assert client.request(method, path, json=body, headers=AUTH).status_code == 200


def test_declared_body_above_the_limit_is_413(client: TestClient) -> None:
    big = b'{"module": "crm", "pad": "' + b"x" * 2_000_000 + b'"}'
    r = client.post(
        "/v1/decisions", headers={**AUTH, "content-type": "application/json"}, content=big
    )
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"


def test_streamed_body_above_the_limit_is_413(client: TestClient) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65_536

    r = client.post(
        "/v1/decisions", headers={**AUTH, "content-type": "application/json"}, content=chunks()
    )
    assert r.status_code == 413


class ExplodingSource:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def fetch(
        self,
        modules: Sequence[str],
        start: datetime,
        end: datetime,
        step: timedelta = timedelta(minutes=1),
    ) -> MetricFetch:
        raise self.exc


def test_unexpected_errors_are_a_generic_500(settings: ServiceSettings, catalog: Catalog) -> None:
    app = make_app(
        settings, catalog, ExplodingSource(RuntimeError("secret path /etc/x")), MemoryStore()
    )
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/v1/decisions", headers=AUTH, json={"module": "crm"})
    assert r.status_code == 500
    assert r.json() == {"detail": "internal server error", "error": "InternalError"}
    assert "secret" not in r.text and "Traceback" not in r.text


def test_an_unreachable_metric_source_is_503_with_its_reason(
    settings: ServiceSettings, catalog: Catalog
) -> None:
    app = make_app(
        settings,
        catalog,
        ExplodingSource(IngestError("Prometheus at 127.0.0.1:1 unreachable")),
        MemoryStore(),
    )
    with TestClient(app) as c:
        r = c.get("/v1/decisions", headers=AUTH)
    assert r.status_code == 503 and "unreachable" in r.json()["detail"]


def test_prod_rejects_a_missing_or_placeholder_token(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="api_token"):
        ServiceSettings(environment="prod", api_token=None, state_dir=tmp_path)
    with pytest.raises(ValidationError, match="api_token"):
        ServiceSettings(environment="prod", api_token="changeme", state_dir=tmp_path)
    strong = "Qm7vX2pL9sRt4wZk8nHc3yBd6fJa"  # "x" * 32 was accepted before issue 19: no longer
    assert ServiceSettings(environment="prod", api_token=strong, state_dir=tmp_path)


def test_dev_without_token_generates_one_in_the_state_dir(
    tmp_path: Path, catalog: Catalog, frame_source: object
) -> None:
    settings = ServiceSettings(api_token=None, state_dir=tmp_path)
    app = make_app(settings, catalog, frame_source, MemoryStore())
    token_file = tmp_path / "api-token"
    token = token_file.read_text()
    assert len(token) >= 32 and (token_file.stat().st_mode & 0o777) == 0o600
    with TestClient(app) as c:
        assert (
            c.get("/v1/decisions", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        )
        assert c.get("/v1/decisions", headers=AUTH).status_code == 403
