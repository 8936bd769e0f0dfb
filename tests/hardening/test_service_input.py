"""Issue 19, service: hostile bodies get a 422 with the field path, never a 500, and the
keep-alive connection they came on stays usable."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexus_ml.catalog import Catalog
from tests.hardening.conftest import LiveServer, build_app
from tests.service.fakes import AUTH

NON_FINITE = ("NaN", "Infinity", "-Infinity", "1e400", "-1e400")
# (path, body with a "@" where the bad literal goes, the field path of the error)
NUMERIC_FIELDS = [
    ("/v1/decisions", '{"module":"nexus-crm","current_replicas":@}', ["current_replicas"]),
    ("/v1/decisions", '{"module":"nexus-crm","window":[{"cpu_usage":@}]}', ["window", 0]),
    (
        "/v1/decisions",
        '{"module":"nexus-crm","link_latencies":[{"source":"crm","target":"user","latency_ms":@}]}',
        ["link_latencies", 0, "latency_ms"],
    ),
    ("/v1/forecast", '{"module":"nexus-crm","horizon":@}', ["horizon"]),
    ("/v1/forecast", '{"module":"nexus-crm","levels":[@]}', ["levels", 0]),
    ("/v1/anomalies", '{"module":"nexus-crm","window":[{"error_rate":@}]}', ["window", 0]),
]
HEADERS = {**AUTH, "Content-Type": "application/json"}


def _post(conn: http.client.HTTPConnection, path: str, body: str) -> tuple[int, bytes, bool]:
    conn.request("POST", path, body=body.encode(), headers=HEADERS)
    response = conn.getresponse()
    return response.status, response.read(), response.will_close


@given(case=st.sampled_from(NUMERIC_FIELDS), literal=st.sampled_from(NON_FINITE))
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_non_finite_numbers_are_422_and_keep_the_connection(
    live_server: LiveServer, case: tuple[str, str, list[object]], literal: str
) -> None:
    path, template, loc = case
    conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=10)
    try:
        status, body, will_close = _post(conn, path, template.replace("@", literal))
        assert status == 422, body[:300]
        detail = json.loads(body)["detail"]  # a well-formed JSON answer
        assert detail[0]["loc"][: 1 + len(loc)] == ["body", *loc]
        assert not will_close
        sock = conn.sock
        conn.request("GET", "/healthz")
        follow = conn.getresponse()
        assert follow.status == 200 and follow.read() == b'{"status":"ok"}'
        assert conn.sock is sock  # the same connection served the next request
    finally:
        conn.close()


def test_naive_datetimes_are_422_with_the_field_path(tmp_path: Path, hard_catalog: Catalog) -> None:
    with TestClient(build_app(tmp_path, hard_catalog), raise_server_exceptions=False) as c:
        r = c.post(
            "/v1/decisions",
            headers=AUTH,
            json={"module": "nexus-crm", "deployed_at": "2026-11-30T13:00:00"},
        )
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "deployed_at"]
        aware = c.post(
            "/v1/decisions",
            headers=AUTH,
            json={"module": "nexus-crm", "deployed_at": "2026-11-30T13:00:00+00:00"},
        )
        assert aware.status_code == 200, aware.text
        alert = {
            "status": "firing",
            "alerts": [{"status": "firing", "labels": {}, "startsAt": "2026-11-30T13:00:00"}],
        }
        r = c.post("/v1/alerts/alertmanager", headers=AUTH, json=alert)
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "alerts", 0, "startsAt"]


def test_deep_nesting_and_bad_bytes_are_422(tmp_path: Path, hard_catalog: Catalog) -> None:
    with TestClient(build_app(tmp_path, hard_catalog), raise_server_exceptions=False) as c:
        for body, why in (
            (b"[" * 100_000 + b"]" * 100_000, "nested"),
            (b'{"module": "\xff\xfe"}', "UTF-8"),
        ):
            r = c.post("/v1/decisions", headers=HEADERS, content=body)
            assert r.status_code == 422, r.text[:200]
            assert r.json()["detail"][0]["loc"] == ["body"] and why in r.text


def test_alert_labels_are_bounded(tmp_path: Path, hard_catalog: Catalog) -> None:
    def webhook(labels: dict[str, str], annotations: dict[str, str]) -> dict[str, object]:
        alert = {"status": "firing", "labels": labels, "annotations": annotations}
        return {"status": "firing", "alerts": [alert]}

    with TestClient(build_app(tmp_path, hard_catalog), raise_server_exceptions=False) as c:
        ok = webhook({"alertname": "X", "module": "nexus-crm"}, {"summary": "s" * 4096})
        assert c.post("/v1/alerts/alertmanager", headers=AUTH, json=ok).status_code == 200
        for body, loc in (
            (webhook({"alertname": "x" * 1025}, {}), ["labels", "alertname"]),
            (webhook({"k" * 129: "v"}, {}), ["labels", "k" * 129]),
            (webhook({}, {"summary": "s" * 4097}), ["annotations", "summary"]),
        ):
            r = c.post("/v1/alerts/alertmanager", headers=AUTH, json=body)
            assert r.status_code == 422
            assert r.json()["detail"][0]["loc"][:3] == ["body", "alerts", 0]
            assert r.json()["detail"][0]["loc"][3] == loc[0]
        group = {"status": "firing", "alerts": [], "groupLabels": {"a": "v" * 5000}}
        assert c.post("/v1/alerts/alertmanager", headers=AUTH, json=group).status_code == 422


class _Exploding:
    def fetch(self, *args: object, **kwargs: object) -> object:
        raise RuntimeError("boom at /etc/secret/place")


def test_an_unexpected_error_is_a_500_that_keeps_the_connection(
    tmp_path: Path, hard_catalog: Catalog
) -> None:
    from tests.service.conftest import make_app

    settings_ = build_app(tmp_path, hard_catalog).state.settings
    app = make_app(settings_, hard_catalog, _Exploding(), None)
    server = LiveServer(app).start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/v1/decisions", headers=AUTH)
        response = conn.getresponse()
        body = response.read()
        assert response.status == 500 and b"/etc/secret" not in body and not response.will_close
        sock = conn.sock
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200 and conn.sock is sock
    finally:
        conn.close()
        server.stop()
