"""A crisis Alertmanager reports opens an incident: through the service's webhook into the crisis
store, once per module, and only from HIGH up."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from nexus_ml.catalog import load_catalog
from nexus_ml.crisis.records import FileRecordStore
from nexus_ml.ingest.frame_source import FrameSource
from service.core.config import ServiceSettings
from tests.service.conftest import make_app
from tests.service.fakes import TOKEN, MemoryStore, bundle, steady_frame
from tests.service.test_other_routes import ALERT

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_a_critical_alert_opens_one_incident_in_the_crisis_store(tmp_path: Path) -> None:
    catalog = load_catalog()
    settings = ServiceSettings(api_token=TOKEN, state_dir=tmp_path, prometheus_url=None,
                               mlflow_tracking_uri=None, pg_dsn=None)  # fmt: skip
    app = make_app(settings, catalog, FrameSource(steady_frame(catalog)),
                   MemoryStore({m: bundle(m, "1") for m in catalog.names}))  # fmt: skip
    with TestClient(app) as client:
        for _ in range(2):  # Alertmanager repeats a firing group: still one incident
            r = client.post("/v1/alerts/alertmanager", headers=AUTH, json=ALERT)
            assert r.status_code == 200, r.text
    (incident,) = FileRecordStore(tmp_path / "crisis").incidents()
    assert incident.module == "nexus-crm" and incident.is_open
    assert incident.source == "alertmanager" and incident.severity == "CRITICAL"
    assert incident.error_type == "PERFORMANCE_DEGRADATION"  # HighLatency
    assert "HighLatency" in incident.trigger


def test_a_warning_opens_nothing(tmp_path: Path) -> None:
    from nexus_ml.crisis.alert_sink import AlertIncidentSink
    from nexus_ml.crisis.rules import load_rules

    sink = AlertIncidentSink(FileRecordStore(tmp_path), load_rules())
    assert sink.firing("nexus-crm", {"alertname": "HighLatency", "severity": "warning"}) is None
    opened = sink.firing("nexus-crm", {"alertname": "Payments", "severity": "page"})
    assert opened is not None and opened.endswith("crm-payment-failure")
    assert sink.firing("nexus-crm", {"alertname": "X", "severity": "critical"}) == opened
