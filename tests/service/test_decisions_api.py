"""Contract of /v1/decisions: the shape the executor codes against, and both input modes."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from nexus_ml.catalog import Catalog
from nexus_ml.domain import Decision
from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk
from tests.service.conftest import make_app
from tests.service.fakes import AUTH, NOW, MemoryStore, bundle


def test_get_returns_one_decision_per_module_in_the_agreed_shape(
    client: TestClient, catalog: Catalog
) -> None:
    r = client.get("/v1/decisions", headers=AUTH)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"generated_at", "decisions", "policy"}
    assert datetime.fromisoformat(body["generated_at"]) == NOW
    assert body["policy"] == "model"
    decisions = [Decision.model_validate(d) for d in body["decisions"]]
    assert [d.module for d in decisions] == list(catalog.names)
    assert all(d.decided_at == NOW and d.policy == "model" for d in decisions)
    assert all(d.model_versions == {d.module: "1"} for d in decisions)


def test_get_is_served_from_the_snapshot_within_the_cache_interval(client: TestClient) -> None:
    first = client.get("/v1/decisions", headers=AUTH).content
    assert client.get("/v1/decisions", headers=AUTH).content == first


def test_without_champions_every_decision_says_rules(rules_client: TestClient) -> None:
    body = rules_client.get("/v1/decisions", headers=AUTH).json()
    assert body["policy"] == "rules"
    assert all(d["policy"] == "rules" and d["confidence"] <= 0.6 for d in body["decisions"])


def test_post_with_the_module_only_reads_the_source(client: TestClient) -> None:
    r = client.post("/v1/decisions", headers=AUTH, json={"module": "crm"})
    assert r.status_code == 200
    d = Decision.model_validate(r.json())
    assert d.module == "nexus-crm" and not d.stale_input
    assert any(e.kind == "forecast_peak" for e in d.explanation)


def test_post_with_a_window_decides_on_it(client: TestClient) -> None:
    rows = [
        {
            "timestamp": (NOW - timedelta(minutes=30 - i)).isoformat(),
            "requests_per_min": 3000.0,
            "cpu_usage": 0.9,
            "response_time": 150.0,
            "error_rate": 0.01,
            "network_latency": 10.0,
        }
        for i in range(30)
    ]
    r = client.post(
        "/v1/decisions",
        headers=AUTH,
        json={"module": "nexus-user-management", "window": rows, "current_replicas": 2},
    )
    assert r.status_code == 200, r.text
    d = r.json()
    assert d["action"] == "scale_up" and d["target_replicas"] == 4 and d["current_replicas"] == 2
    assert 0.9 < d["confidence"] <= 1.0


def test_rows_without_timestamps_end_now(client: TestClient) -> None:
    r = client.post(
        "/v1/decisions",
        headers=AUTH,
        json={"module": "crm", "window": [{"requests_per_min": 10.0}] * 5},
    )
    assert r.status_code == 200 and r.json()["stale_input"] is False


def test_missing_values_in_a_window_hold(client: TestClient) -> None:
    rows = [{"requests_per_min": 10.0}] * 20 + [{"cpu_usage": 0.1}] * 5
    d = client.post(
        "/v1/decisions",
        headers=AUTH,
        json={"module": "nexus-user-management", "window": rows, "current_replicas": 5},
    ).json()
    assert d["target_replicas"] == 5 and d["stale_input"] is True


def test_deploy_with_error_regression_recommends_rollback(client: TestClient) -> None:
    rows = [
        {
            "timestamp": (NOW - timedelta(minutes=40 - i)).isoformat(),
            "requests_per_min": 300.0,
            "error_rate": 0.01 + 0.001 * (i % 3) if i < 20 else 0.2 + 0.01 * (i % 3),
            "response_time": 100.0,
        }
        for i in range(40)
    ]
    deployed = (NOW - timedelta(minutes=20, seconds=30)).isoformat()
    d = client.post(
        "/v1/decisions",
        headers=AUTH,
        json={"module": "crm", "window": rows, "deployed_at": deployed},
    ).json()
    assert d["action"] == "rollback" and d["rollback_scope"] == "MODULE_ONLY"


def test_slow_links_posted_are_named(client: TestClient) -> None:
    body = {
        "module": "crm",
        "link_latencies": [
            {"source": "nexus-crm", "target": "nexus-user-management", "latency_ms": 900}
        ],
    }
    d = client.post("/v1/decisions", headers=AUTH, json=body).json()
    assert d["alert_admin"] and "nexus-crm → nexus-user-management 900 ms" in d["reason"]


def test_invalid_body_is_422_with_the_field_path(client: TestClient) -> None:
    r = client.post(
        "/v1/decisions", headers=AUTH, json={"module": "crm", "window": [{"cpu_usage": -1}]}
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "window", 0, "cpu_usage"]
    r = client.post("/v1/decisions", headers=AUTH, json={"module": "crm", "surprise": 1})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "surprise"]


def test_window_length_is_bounded(client: TestClient) -> None:
    rows = [{"requests_per_min": 1.0}] * 1441
    r = client.post("/v1/decisions", headers=AUTH, json={"module": "crm", "window": rows})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "window"]


def test_unknown_module_is_404_json(client: TestClient) -> None:
    r = client.post("/v1/decisions", headers=AUTH, json={"module": "nexus-payroll"})
    assert r.status_code == 404
    assert r.json()["error"] == "NotFoundError" and "nexus-payroll" in r.json()["detail"]


def test_mixed_timestamps_are_rejected_with_a_reason(client: TestClient) -> None:
    rows = [{"timestamp": NOW.isoformat(), "requests_per_min": 1.0}, {"requests_per_min": 2.0}]
    r = client.post("/v1/decisions", headers=AUTH, json={"module": "crm", "window": rows})
    assert r.status_code == 422 and "no timestamp" in r.json()["detail"]


def test_timestamps_beyond_the_models_clock_are_rejected(client: TestClient) -> None:
    rows = [{"timestamp": "0001-01-01T00:00:00Z", "requests_per_min": 1.0}]
    r = client.post("/v1/anomalies", headers=AUTH, json={"module": "crm", "window": rows})
    assert r.status_code == 422 and "outside 1970..2200" in r.json()["detail"]


class NanRisk(LeadTimeRisk):
    def window_risk(self, thresholds):  # type: ignore[no-untyped-def]
        return super().window_risk(thresholds) * float("nan")


def test_a_broken_scaling_model_falls_back_to_the_rules(settings, catalog, frame_source) -> None:  # type: ignore[no-untyped-def]
    broken = bundle("nexus-crm", "7")
    broken = replace(broken, scaler=NanRisk(lead_time=1, season=60).fit([10.0] * 200))
    with TestClient(
        make_app(settings, catalog, frame_source, MemoryStore({"nexus-crm": broken}))
    ) as c:
        d = c.post("/v1/decisions", headers=AUTH, json={"module": "crm"}).json()
    assert d["policy"] == "rules"
    assert any(e["kind"] == "model" and "not finite" in e["detail"] for e in d["explanation"])


def test_a_champion_without_a_scaling_model_is_served_by_the_rules_and_says_why(
    settings, catalog, frame_source
) -> None:  # type: ignore[no-untyped-def]
    old = replace(bundle("nexus-crm", "3"), scaler=None)
    with TestClient(
        make_app(settings, catalog, frame_source, MemoryStore({"nexus-crm": old}))
    ) as c:
        d = c.post("/v1/decisions", headers=AUTH, json={"module": "crm"}).json()
    assert d["policy"] == "rules"
    assert any(e["kind"] == "model" and "retrain" in e["detail"] for e in d["explanation"])


def test_observed_state_from_the_executor_is_what_the_decision_starts_from(
    client: TestClient,
) -> None:
    body = {"modules": {"nexus-crm": {"replicas": 3, "recent_actions": []}}}
    r = client.post("/v1/decisions/observed", headers=AUTH, json=body)
    assert r.status_code == 200
    crm = next(d for d in r.json()["decisions"] if d["module"] == "nexus-crm")
    assert crm["current_replicas"] == 3  # the cluster's count, not a remembered target


def test_restarts_the_executor_applied_count_against_the_budget(client: TestClient) -> None:
    at = (NOW - timedelta(minutes=10)).isoformat()
    actions = [{"action": "restart", "at": at}] * 3
    body = {"modules": {"nexus-crm": {"replicas": 1, "recent_actions": actions}}}
    r = client.post("/v1/decisions/observed", headers=AUTH, json=body)
    assert r.status_code == 200
    crm = next(d for d in r.json()["decisions"] if d["module"] == "nexus-crm")
    assert crm["action"] != "restart"


def test_an_unknown_module_in_the_observation_is_a_422_naming_it(client: TestClient) -> None:
    body = {"modules": {"nexus-nope": {"replicas": 1}}}
    r = client.post("/v1/decisions/observed", headers=AUTH, json=body)
    assert r.status_code == 422
    assert "nexus-nope" in r.text and "modules" in r.text


def test_a_naive_action_time_is_a_422(client: TestClient) -> None:
    body = {
        "modules": {
            "nexus-crm": {"recent_actions": [{"action": "restart", "at": "2026-11-30T13:00:00"}]}
        }
    }
    r = client.post("/v1/decisions/observed", headers=AUTH, json=body)
    assert r.status_code == 422 and "recent_actions" in r.text
