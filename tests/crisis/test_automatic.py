"""End to end on the in-memory cluster: a bad release meets the executor, an incident opens by
itself, each later action is attached, it closes once the module is healthy, and the full report
has every field filled from the collected data (metrics of a simulated bad release)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from nexus_ml.alerts.notifier import LogNotifier
from nexus_ml.catalog import load_catalog
from nexus_ml.crisis.automatic import AutoConfig, AutoIncidents
from nexus_ml.crisis.records import FileRecordStore
from nexus_ml.crisis.rules import load_rules
from nexus_ml.domain.decision import Evidence
from nexus_ml.execute.audit import MemoryAudit
from nexus_ml.execute.guardrails import GuardrailConfig, Guardrails
from nexus_ml.execute.incidents import IncidentHook
from nexus_ml.execute.loop import Executor, ExecutorConfig
from nexus_ml.execute.memory import InMemoryCluster
from nexus_ml.ingest import FrameSource
from nexus_ml.sim import BadRelease
from tests.crisis.conftest import NOW, at, history
from tests.execute.conftest import Clock, ScriptedSource, decision

CRM = "nexus-crm"
RELEASE = BadRelease(module=CRM, start=at(10), duration=timedelta(minutes=40), magnitude=1.5)


def run_bad_release(tmp_path: Path) -> tuple[AutoIncidents, MemoryAudit, InMemoryCluster]:
    clock = Clock(at(10) + timedelta(minutes=5))
    cluster = InMemoryCluster({CRM: 2, "nexus-agendamento": 1, "nexus-user-management": 2})
    cluster.deploy(CRM, "nexus-module:2")  # the bad release
    audit = MemoryAudit()
    auto = AutoIncidents(
        store=FileRecordStore(tmp_path / "crisis"), rules=load_rules(), catalog=load_catalog(),
        report_dir=tmp_path / "reports", source=FrameSource(history(RELEASE), name="sim"),
        audit=audit, clock=lambda: NOW,
        config=AutoConfig(healthy_for=timedelta(minutes=15), revenue_per_transaction=42.0),
    )  # fmt: skip
    hook = IncidentHook(auto)
    source = ScriptedSource(clock)
    executor = Executor(
        source, cluster, load_catalog(), Guardrails(GuardrailConfig(interval_s=300)), audit,
        LogNotifier(), config=ExecutorConfig(interval_s=300, executor_id="e2e"), clock=clock,
        incidents=hook,
    )  # fmt: skip
    canary = Evidence(kind="canary", detail="canary score 97: regression in error_rate 0.01 → 0.2")
    source.next = [decision(CRM, "rollback", reason="failed release", explanation=(canary,))]
    executor.tick()
    for _ in range(6):  # healthy for 30 minutes, one tick every 5
        clock.advance(300)
        source.next = [decision(CRM, "hold")]
        executor.tick()
    assert hook.drain(60)
    hook.stop()
    assert hook.failed == 0 and hook.dropped == 0
    return auto, audit, cluster


def test_a_bad_release_opens_grows_and_closes_an_incident_with_a_full_report(
    tmp_path: Path,
) -> None:
    auto, audit, cluster = run_bad_release(tmp_path)
    assert cluster.services()[CRM].image == "nexus-module:1"  # the executor rolled back
    (done,) = auto.closed
    record, report = done.record, done.report
    assert record.error_type == "ERROR_BURST" and record.source == "executor"
    assert record.opened_at == at(10) + timedelta(minutes=5)
    # healthy from the first hold (10:10) for 15 minutes: closed at 10:25
    assert record.closed_at == at(10) + timedelta(minutes=25)
    assert report.recovery_time_s == 20 * 60
    # the release running at the opening and the rollback are in the trail, told apart (only
    # the release is read back as a deploy)
    noted = [(e.event, e.data) for e in audit.entries if e.executor == "incidents"]
    assert noted == [
        ("release_running", {"image": "nexus-module:2", "previous_image": ""}),
        ("rolled_back", {"rolled_back_to": "nexus-module:1", "from_image": "nexus-module:2"}),
    ]
    # every field of the seed's report is filled
    assert report.incident_id == record.id
    assert report.root_cause_code == "bad_release" and "nexus-module:2" in report.root_cause
    assert report.root_cause_evidence and len(report.timeline) >= 5
    assert report.affected_modules[0] == CRM
    assert report.financial_impact.basis == "metrics"  # the simulator writes no transaction logs
    assert report.financial_impact.failed_transactions > 0
    assert report.financial_impact.amount == report.financial_impact.failed_transactions * 42.0
    assert report.rollback_scope.value == "MODULE_ONLY" and report.rollback_modules
    assert any("rollback" in a for a in report.actions_taken)
    assert report.lessons_learned and report.prevention_actions
    kept = report.data_kept
    assert kept["actions"] >= 2 and kept["metric_series"] > 100
    assert "response_time_samples" not in kept  # ERROR_BURST ignores it by rule
    md = done.markdown.read_text(encoding="utf-8")
    for heading in ("Linha do tempo", "Causa raiz", "Clientes afetados", "Impacto financeiro",
                    "Tempo de recuperação", "Escopo de rollback", "Ações tomadas",
                    "Lições aprendidas", "Ações de prevenção"):  # fmt: skip
        assert f"## {heading}" in md
    assert (done.markdown.parent / "crisis.pt.png").stat().st_size > 5000
    page = done.html.read_text(encoding="utf-8")
    assert 'lang="pt-BR"' in page and "data:image/png;base64," in page
    assert done.summary.startswith("🚨 Crise CRITICAL em nexus-crm") and "file://" in done.summary
    assert len(done.summary) <= 900


def test_an_incident_alertmanager_opened_is_adopted_and_closed_by_the_executor(
    tmp_path: Path,
) -> None:
    from nexus_ml.crisis.triggers import alert_event

    rules = load_rules()
    auto = AutoIncidents(
        store=FileRecordStore(tmp_path / "crisis"), rules=rules, catalog=load_catalog(),
        report_dir=tmp_path / "reports", config=AutoConfig(healthy_for=timedelta(minutes=10)),
    )  # fmt: skip
    event = alert_event(at(9), CRM, {"alertname": "PaymentGatewayErrors", "severity": "critical"},
                        rules)  # fmt: skip
    assert event is not None and event.error_type == "PAYMENT_FAILURE"
    assert alert_event(at(9), CRM, {"alertname": "X", "severity": "warning"}, rules) is None
    auto.handle(event)
    (opened,) = auto.store.incidents()
    assert opened.is_open and opened.severity == "CRITICAL" and opened.source == "alertmanager"
    fresh = AutoIncidents(  # another process (the executor) sees it in the store
        store=FileRecordStore(tmp_path / "crisis"), rules=rules, catalog=load_catalog(),
        report_dir=tmp_path / "reports", config=AutoConfig(healthy_for=timedelta(minutes=10)),
    )  # fmt: skip
    from nexus_ml.crisis.triggers import CrisisEvent

    for minutes in (5, 10, 15):
        fresh.handle(CrisisEvent(at=at(9) + timedelta(minutes=minutes), module=CRM,
                                 source="executor", action="hold"))  # fmt: skip
    (done,) = fresh.closed
    assert done.record.id == opened.id and done.record.closed_at == at(9) + timedelta(minutes=15)
    assert done.report.root_cause_code == "unknown"  # no metric source: said, not invented
