"""``nexus-ml incident rules`` and the per-category ``purge`` (files store; PG in test_records)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexus_ml.cli.main import app
from nexus_ml.crisis.records import FileRecordStore, IncidentRecord, Row
from nexus_ml.settings import get_settings


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NEXUS_STATE_DIR", str(tmp_path / "state"))
    for name in ("NEXUS_PG_DSN", "NEXUS_CRISIS_RULES_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["incident", *args])
    return result.exit_code, result.stdout, result.stderr


def test_rules_prints_every_error_type_with_retention_limit_and_severity() -> None:
    code, out, _ = invoke("rules")
    assert code == 0
    for text in ("PAYMENT_FAILURE", "INTEGRATION_BREAK", "PERFORMANCE_DEGRADATION", "CRITICAL",
                 "affected_transactions (90 d, all_failed)", "response_time_samples (7 d, smart)",
                 "500 MB"):  # fmt: skip
        assert text in out


def test_a_broken_rules_file_exits_2_naming_field_and_value(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text("error_types:\n  PAYMENT_FAILURE: {storage_limit_mb: -5}\n", encoding="utf-8")
    code, out, err = invoke("rules", "--rules", str(bad))
    assert code == 2
    assert "error_types.PAYMENT_FAILURE.storage_limit_mb" in err and "-5" in err
    assert "Traceback" not in err + out


def test_purge_deletes_per_category_and_keeps_open_incidents(tmp_path: Path) -> None:
    store = FileRecordStore(tmp_path / "state" / "crisis")
    long_ago = datetime.now(UTC) - timedelta(days=20)
    ids = []
    for module in ("crm", "agendamento"):
        ids.append(store.open_incident(IncidentRecord(
            id=module, module=module, error_type="PAYMENT_FAILURE", severity="CRITICAL",
            source="test", opened_at=long_ago)).id)  # fmt: skip
        for category in ("stack_traces", "impacted_customers", "response_time_samples"):
            store.add(ids[-1], category, [Row(at=long_ago, key="k", payload={"x": 1})])
    store.close_incident(ids[0], long_ago)
    code, out, _ = invoke("purge")
    assert code == 0, out
    assert store.counts(ids[0]) == {"impacted_customers": 1}  # 30 d not yet over
    assert store.counts(ids[1]) == dict.fromkeys(
        ["impacted_customers", "response_time_samples", "stack_traces"], 1
    )  # open: untouched
    assert "stack_traces" in out and "14 d" in out


def test_list_shows_the_incidents_opened_automatically(tmp_path: Path) -> None:
    store = FileRecordStore(tmp_path / "state" / "crisis")
    store.open_incident(IncidentRecord(
        id="20261204T1000Z-crm-payment-failure", module="nexus-crm", error_type="PAYMENT_FAILURE",
        severity="CRITICAL", source="alertmanager", opened_at=datetime(2026, 12, 4, 10, tzinfo=UTC),
    ))  # fmt: skip
    code, out, _ = invoke("list")
    assert code == 0
    assert "opened automatically" in out and "20261204T1000Z-crm-payment-failure" in out
    assert "alertmanager" in out and "open" in out
