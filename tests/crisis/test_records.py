"""The crisis record store, on files and on the real PostgreSQL: per-category retention, open
incidents never purged, unique keys stored once, the storage limit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nexus_ml.crisis.gather import store_rows
from nexus_ml.crisis.records import FileRecordStore, IncidentRecord, RecordStore, Row
from nexus_ml.crisis.rules import load_rules
from tests.support.pg import fresh_database

T = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(params=["files", pytest.param("postgres", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RecordStore]:
    if request.param == "files":
        yield FileRecordStore(tmp_path / "crisis")
        return
    from nexus_ml.crisis.records_pg import PostgresRecordStore

    dsn = request.getfixturevalue("pg_dsn")
    with fresh_database(dsn, "crisis_test") as db:
        yield PostgresRecordStore(db)


def _incident(store: RecordStore, module: str, error_type: str = "PAYMENT_FAILURE") -> str:
    record = IncidentRecord(id=f"t-{module}", module=module, error_type=error_type,
                            severity="CRITICAL", source="test", opened_at=T)  # fmt: skip
    return store.open_incident(record).id


def _fill(store: RecordStore, incident_id: str) -> None:
    for category in ("affected_transactions", "impacted_customers", "response_time_samples",
                     "stack_traces", "failed_integration_calls"):  # fmt: skip
        store.add(incident_id, category, [Row(at=T, key=f"{category}-{i}", payload={"i": i})
                                          for i in range(3)])  # fmt: skip


def test_purge_removes_exactly_the_categories_past_their_retention(store: RecordStore) -> None:
    rules = load_rules()
    retention = {c: r.retention_days for c, r in rules.categories.items()}
    closed, still_open = _incident(store, "crm"), _incident(store, "agendamento")
    _fill(store, closed)
    _fill(store, still_open)
    store.close_incident(closed, T)
    assert store.purge(T + 6 * DAY, retention) == {}
    assert store.purge(T + 8 * DAY, retention) == {"response_time_samples": 3}
    assert store.purge(T + 15 * DAY, retention) == {"stack_traces": 3}
    assert store.purge(T + 31 * DAY, retention) == {
        "impacted_customers": 3, "failed_integration_calls": 3,
    }  # fmt: skip
    assert store.counts(closed) == {"affected_transactions": 3}
    assert store.purge(T + 91 * DAY, retention) == {"affected_transactions": 3}
    assert store.counts(still_open) == dict.fromkeys(
        ["affected_transactions", "failed_integration_calls", "impacted_customers",
         "response_time_samples", "stack_traces"], 3,
    )  # an open incident keeps everything, whatever its age  # fmt: skip
    assert [i.id for i in store.incidents()] == [still_open]  # the emptied one is gone


def test_unique_keys_are_stored_once_and_ignored_categories_never(store: RecordStore) -> None:
    rules = load_rules()
    incident = _incident(store, "crm", "PAYMENT_FAILURE")
    rows = {
        "impacted_customers": [{"customer_id": c} for c in ("c1", "c2", "c1")],
        "response_time_samples": [{"value": 10.0}],  # PAYMENT_FAILURE ignores it
        "affected_transactions": [{"transaction_id": "t1", "status": "failed"},
                                  {"transaction_id": "t2", "status": "ok"}],
    }  # fmt: skip
    first = store_rows(store, rules, incident, "PAYMENT_FAILURE", rows, T)
    again = store_rows(store, rules, incident, "PAYMENT_FAILURE", rows, T)
    assert first.stored == {"impacted_customers": 2, "affected_transactions": 1}
    assert first.ignored == {"response_time_samples": 1}
    assert again.stored == {"impacted_customers": 0, "affected_transactions": 0}
    assert store.counts(incident) == {"affected_transactions": 1, "impacted_customers": 2}
    assert store.open_for("crm") is not None and store.open_for("nowhere") is None


def test_the_storage_limit_drops_and_counts(store: RecordStore, tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text("error_types:\n  ERROR_BURST: {storage_limit_mb: 0.001}\n", encoding="utf-8")
    rules = load_rules(path)
    incident = _incident(store, "crm", "ERROR_BURST")
    logs = [{"at": T.isoformat(), "text": f"line {i} " + "x" * 100} for i in range(50)]
    result = store_rows(store, rules, incident, "ERROR_BURST", {"container_logs": logs}, T)
    assert 0 < result.stored["container_logs"] < 50
    assert result.stored["container_logs"] + result.dropped["container_logs"] == 50
    assert store.bytes_used(incident) <= 1100


def test_metric_rows_give_series_samples_and_cross_module_call_latencies() -> None:
    import pandas as pd

    from nexus_ml.crisis.gather import metric_rows

    frame = pd.DataFrame({
        "module": ["nexus-crm", "nexus-user-management"],
        "timestamp": pd.to_datetime([T, T], utc=True),
        "response_time": [300.0, 80.0],
        "network_latency": [45.0, float("nan")],
    })  # fmt: skip
    rows = metric_rows(frame, "nexus-crm", ["nexus-user-management"])
    assert len(rows["metric_series"]) == 3  # NaN dropped
    assert rows["response_time_samples"] == [{"at": T.isoformat(), "value": 300.0}]
    calls = {(c["targets"][0], c["value"], c.get("kind", "link")) for c in rows["call_latencies"]}
    assert calls == {("nexus-user-management", 45.0, "link"),
                     ("nexus-user-management", 80.0, "dependency_response_time")}  # fmt: skip
