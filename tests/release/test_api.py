"""``/v1/releases``: judge two posted samples, store and serve verdicts for Argo's web provider."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from nexus_ml.catalog import load_catalog
from nexus_ml.ingest.frame_source import FrameSource
from nexus_ml.release.samples import MetricSamples
from service.api.routes.releases import MAX_SAMPLE_ROWS
from service.app import create_app
from service.core.config import ServiceSettings
from tests.service.fakes import AUTH, NOW, TOKEN, MemoryStore, steady_frame
from tests.support.pg import fresh_database

from .helpers import samples


def make_client(tmp_path: Path, **overrides: Any) -> TestClient:
    catalog = load_catalog()
    fields: dict[str, Any] = {
        "api_token": TOKEN,
        "state_dir": tmp_path,
        "prometheus_url": None,
        "mlflow_tracking_uri": None,
        "pg_dsn": None,
    }
    settings = ServiceSettings(**{**fields, **overrides})
    app = create_app(
        settings,
        catalog=catalog,
        metric_source=FrameSource(steady_frame(catalog)),
        model_store=MemoryStore(),  # type: ignore[arg-type]
        clock=lambda: NOW,
        poll_models=False,
    )
    return TestClient(app)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path) as c:
        yield c


def rows(data: MetricSamples) -> list[dict[str, Any]]:
    return [
        {
            "timestamp": datetime.fromtimestamp(t, UTC).isoformat(),
            "metric": m,
            "value": None if v != v else v,
        }
        for t, m, v in data.rows()
    ]


def test_routes_need_the_bearer_token(client: TestClient) -> None:
    assert client.get("/v1/releases/x").status_code == 401
    bad = {"Authorization": "Bearer wrong-token-0000000000"}
    assert client.post("/v1/releases/judge", json={}, headers=bad).status_code == 403


def test_judge_stores_and_serves_the_verdict(client: TestClient) -> None:
    body = {
        "baseline": rows(samples(1)),
        "candidate": rows(samples(2, latency=250.0)),
        "id": "crm-2.1-rc1",
    }
    r = client.post("/v1/releases/judge", json=body, headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["verdict"] == "Failed"
    got = client.get("/v1/releases/crm-2.1-rc1", headers=AUTH)
    assert got.status_code == 200
    served = got.json()
    # what Argo Rollouts' web provider reads with jsonPath "{$.verdict}" / "{$.score}"
    assert served["id"] == "crm-2.1-rc1" and served["verdict"] == "Failed"
    assert served["score"] == 0.0
    latency = next(m for m in served["metrics"] if m["name"] == "latency_ms")
    assert latency["status"] == "fail" and latency["p_value"] < 0.05


def test_judge_with_config_and_release_status(client: TestClient) -> None:
    body = {
        "baseline": rows(samples(1)),
        "candidate": rows(samples(2)),
        "config": {"metrics": [{"name": "latency_ms", "critical": True}]},
        "release_status": {
            "update_state": "completed",
            "candidate_version": "2",
            "running_version": "1",
        },
    }
    r = client.post("/v1/releases/judge", json=body, headers=AUTH)
    assert r.status_code == 200 and r.json()["verdict"] == "Failed"
    assert "silent rollback" in r.json()["reason"]
    assert [m["name"] for m in r.json()["metrics"]] == ["latency_ms"]
    body.pop("release_status")
    r = client.post("/v1/releases/judge", json=body, headers=AUTH)
    assert r.json()["verdict"] == "Successful" and r.json()["id"] is None


def test_unknown_release_is_404(client: TestClient) -> None:
    r = client.get("/v1/releases/never-judged", headers=AUTH)
    assert r.status_code == 404 and "never-judged" in r.json()["detail"]


def loc_of(response: Any) -> list[Any]:
    assert response.status_code == 422, response.text
    return list(response.json()["detail"][0]["loc"])


def test_bad_bodies_are_422_with_the_field_path(client: TestClient) -> None:
    good = rows(samples(1, n=5))
    bad_value = [*good[:3], {**good[3], "value": "fast"}]
    r = client.post(
        "/v1/releases/judge", json={"baseline": good, "candidate": bad_value}, headers=AUTH
    )
    assert loc_of(r) == ["body", "candidate", 3, "value"]
    r = client.post(
        "/v1/releases/judge",
        json={
            "baseline": good,
            "candidate": good,
            "config": {"metrics": [{"name": "x", "direction": "up"}]},
        },
        headers=AUTH,
    )
    assert loc_of(r) == ["body", "config", "metrics", 0, "direction"]
    r = client.post("/v1/releases/judge", json={"baseline": [], "candidate": good}, headers=AUTH)
    assert loc_of(r) == ["body", "baseline"]
    r = client.post(
        "/v1/releases/judge",
        json={"baseline": good, "candidate": good, "id": "../etc"},
        headers=AUTH,
    )
    assert loc_of(r) == ["body", "id"]
    r = client.get("/v1/releases/bad%20id", headers=AUTH)
    assert loc_of(r) == ["path", "release_id"]


def test_sample_size_is_bounded(tmp_path: Path) -> None:
    row = rows(samples(1, n=1))[0]
    body = {"baseline": [row], "candidate": [row] * (MAX_SAMPLE_ROWS + 1)}
    with make_client(tmp_path) as small:  # the default 1 MiB body limit comes first
        assert small.post("/v1/releases/judge", json=body, headers=AUTH).status_code == 413
    with make_client(tmp_path, max_body_bytes=16 * 1_048_576) as large:
        r = large.post("/v1/releases/judge", json=body, headers=AUTH)
        assert loc_of(r) == ["body", "candidate"]


@pytest.mark.integration
def test_service_keeps_verdicts_in_postgres_when_configured(pg_dsn: str, tmp_path: Path) -> None:
    with fresh_database(pg_dsn, "release_api") as dsn:
        body = {"baseline": rows(samples(1)), "candidate": rows(samples(2)), "id": "um-3.0"}
        with make_client(tmp_path, pg_dsn=dsn) as c:
            assert c.post("/v1/releases/judge", json=body, headers=AUTH).status_code == 200
        with make_client(tmp_path / "elsewhere", pg_dsn=dsn) as other:  # another replica
            assert other.get("/v1/releases/um-3.0", headers=AUTH).json()["verdict"] == "Successful"
        assert not (tmp_path / "releases").exists()  # nothing went to the file store
        with psycopg.connect(dsn) as conn:
            count = conn.execute("SELECT count(*) FROM nexus_releases.verdicts").fetchone()
        assert count == (1,)
