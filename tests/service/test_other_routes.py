"""Contract of the forecast, anomaly, rollback and Alertmanager routes and the open routes."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.fakes import AUTH

ALERT = {
    "version": "4",
    "receiver": "nexus-ml",
    "status": "firing",
    "groupKey": '{}:{alertname="HighLatency"}',
    "truncatedAlerts": 0,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "module": "nexus-crm", "severity": "critical"},
            "annotations": {"summary": "p95 above 2 s"},
            "startsAt": "2026-11-30T13:55:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph",
            "fingerprint": "ab12",
        },
        {"status": "firing", "labels": {"alertname": "Disk", "service": "crm"}},
        {"status": "resolved", "labels": {"alertname": "Old", "module": "nexus-crm"}},
        {"status": "firing", "labels": {"alertname": "Other", "module": "nexus-payroll"}},
        {"status": "firing", "labels": {"alertname": "NoLabel"}},
    ],
    "groupLabels": {"alertname": "HighLatency"},
    "commonLabels": {},
    "commonAnnotations": {},
    "externalURL": "http://127.0.0.1:9093",
}


def test_forecast_returns_points_with_every_level(client: TestClient) -> None:
    r = client.post(
        "/v1/forecast", headers=AUTH, json={"module": "crm", "horizon": 3, "levels": [80, 95]}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model_version"] == "1" and len(body["points"]) == 3
    point = body["points"][0]
    assert (
        set(point["lo"]) == {"80", "95"} and point["lo"]["80"] < point["mean"] < point["hi"]["80"]
    )


def test_forecast_without_champion_is_404(rules_client: TestClient) -> None:
    r = rules_client.post("/v1/forecast", headers=AUTH, json={"module": "crm"})
    assert r.status_code == 404 and "no champion" in r.json()["detail"]


def test_anomalies_score_every_row(client: TestClient) -> None:
    rows = [{"error_rate": 0.01}] * 3 + [{"error_rate": 0.2}]
    r = client.post("/v1/anomalies", headers=AUTH, json={"module": "crm", "window": rows})
    assert r.status_code == 200, r.text
    scores = r.json()["scores"]
    assert [s["combined"] for s in scores] == [0.1, 0.1, 0.1, 0.9]
    assert scores[-1]["fields"]["error_rate"] == 0.9


def test_rollback_analysis_for_a_breaking_api(client: TestClient) -> None:
    body = {
        "failed_module": "user-management",
        "error_type": "API_BREAKING",
        "current_version": "2",
        "last_stable_version": "1",
        "integration_health": {"nexus-crm": False},
    }
    r = client.post("/v1/rollback-analysis", headers=AUTH, json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["decision"]["scope"] == "DEPENDENCY_CHAIN"
    assert out["decision"]["modules"] == ["nexus-user-management", "nexus-crm", "nexus-agendamento"]
    assert (
        out["analysis"]["minimum_scope"] == "DEPENDENCY_CHAIN"
        and out["analysis"]["estimated_downtime_s"] > 0
    )


def test_rollback_analysis_rejects_unknown_error_types(client: TestClient) -> None:
    r = client.post(
        "/v1/rollback-analysis", headers=AUTH, json={"failed_module": "crm", "error_type": "OOPS"}
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "error_type"]


def test_alertmanager_webhook_becomes_decisions(client: TestClient) -> None:
    r = client.post("/v1/alerts/alertmanager", headers=AUTH, json=ALERT)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["received"] == 5
    assert [d["module"] for d in out["decisions"]] == ["nexus-crm"]
    crm = out["decisions"][0]
    assert crm["alert_admin"] and crm["action"] == "alert"
    assert any(
        "HighLatency (critical)" in e["detail"] and "Disk" in e["detail"]
        for e in crm["explanation"]
    )
    reasons = {i["alertname"]: i["reason"] for i in out["ignored"]}
    assert reasons == {
        "Old": "resolved",
        "Other": "unknown module 'nexus-payroll'",
        "NoLabel": "no module/service label",
    }


def test_open_routes_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["models"]["nexus-crm"] == "1"


def test_metrics_report_latency_decisions_and_models(client: TestClient) -> None:
    client.get("/v1/decisions", headers=AUTH)
    text = client.get("/metrics").text
    assert 'nexus_decisions_total{action="hold",module="nexus-crm",policy="model"}' in text
    assert 'nexus_model_info{module="nexus-crm",version="1"} 1.0' in text
    assert (
        'nexus_service_request_seconds_count{method="GET",route="/v1/decisions",status="200"}'
        in text
    )


def test_openapi_documents_examples_and_the_bearer_scheme(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {
        "/v1/decisions",
        "/v1/forecast",
        "/v1/anomalies",
        "/v1/rollback-analysis",
        "/v1/alerts/alertmanager",
    } <= set(schema["paths"])
    assert schema["components"]["schemas"]["DecisionRequest"]["examples"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_forecast_levels_are_bounded(client: TestClient) -> None:
    r = client.post("/v1/forecast", headers=AUTH, json={"module": "crm", "levels": [80, 100]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "levels", 1]
