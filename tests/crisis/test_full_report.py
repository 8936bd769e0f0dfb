"""The full report from stored rows alone: every field, pt-BR and English, HTML escaping, the
Telegram summary's length and link."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from nexus_ml.catalog import load_catalog
from nexus_ml.crisis.full_report import build_full_report
from nexus_ml.crisis.full_report_render import (
    money,
    render_full_html,
    render_full_markdown,
    telegram_summary,
)
from nexus_ml.crisis.gather import store_rows
from nexus_ml.crisis.records import FileRecordStore, IncidentRecord
from nexus_ml.crisis.rules import load_rules

T = datetime(2026, 12, 4, 10, tzinfo=UTC)


def _stored(tmp_path: Path) -> tuple[FileRecordStore, IncidentRecord]:
    store, rules = FileRecordStore(tmp_path), load_rules()
    record = store.open_incident(IncidentRecord(
        id="pay", module="nexus-crm", error_type="PAYMENT_FAILURE", severity="CRITICAL",
        source="executor", trigger="restart taken: errors", opened_at=T,
    ))  # fmt: skip
    rows = {
        "affected_transactions": [
            {"at": T.isoformat(), "transaction_id": f"t{i}", "customer_id": f"c{i % 3}",
             "status": "failed" if i % 2 else "ok"} for i in range(10)
        ],
        "impacted_customers": [{"customer_id": f"c{i % 3}"} for i in range(10)],
        "stack_traces": [{"fingerprint": "f1", "error": "<script>alert(1)</script>",
                          "trace": "x", "at": T.isoformat()}],
        "actions": [
            {"at": (T + timedelta(minutes=2)).isoformat(), "event": "action_taken",
             "action": "restart", "outcome": "taken", "detail": "force update"},
            {"at": (T + timedelta(minutes=4)).isoformat(), "event": "action_skipped",
             "action": "rollback", "outcome": "skipped (cooldown)", "reason": "cooldown"},
        ],
    }  # fmt: skip
    store_rows(store, rules, record.id, record.error_type, rows, T)
    return store, store.close_incident(record.id, T + timedelta(minutes=47))


def test_every_field_from_the_stored_rows(tmp_path: Path) -> None:
    store, record = _stored(tmp_path)
    report = build_full_report(record, store, load_rules(), load_catalog(),
                               revenue_per_transaction=1234.5)  # fmt: skip
    fin = report.financial_impact
    assert (fin.failed_transactions, fin.basis, fin.amount) == (5, "logs", 5 * 1234.5)
    assert report.affected_customers == 3 and report.affected_customer_sample == ("c0", "c1", "c2")
    assert report.recovery_time_s == 47 * 60
    assert report.root_cause_code == "unknown"  # no metric window: said so, not invented
    assert report.rollback_scope.value == "MODULE_ONLY" and report.rollback_modules == ()
    assert any("cooldown" in lesson for lesson in report.lessons_learned)
    assert any("2 min" in lesson for lesson in report.lessons_learned)
    assert report.prevention_actions and len(report.actions_taken) == 2
    assert report.data_ignored == ("response_time_samples", "call_latencies")
    md = render_full_markdown(report)
    assert "R$ 6.172,50" in md and "47 min" in md
    page = render_full_html(report)
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    english = build_full_report(record, store, load_rules(), load_catalog(), language="en")
    assert "## Financial impact" in render_full_markdown(english)
    assert money(6172.5, "en") == "6,172.50"


def test_the_telegram_summary_is_short_and_ends_with_the_link(tmp_path: Path) -> None:
    store, record = _stored(tmp_path)
    report = build_full_report(record, store, load_rules(), load_catalog())
    url = "https://ops.example/crisis/pay"
    text = telegram_summary(report, url)
    assert text.startswith("🚨 Crise CRITICAL em nexus-crm") and text.endswith(url)
    short = telegram_summary(report, url, limit=120)
    assert len(short) <= 120 and short.endswith(url)
