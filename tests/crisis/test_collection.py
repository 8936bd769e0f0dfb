"""Collection plans (bundled, overridden, invalid), windows per error type, and collection."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from nexus_ml.crisis import EvidenceKind, collection_window, load_collection_plans
from nexus_ml.crisis.collection import parse_error_type
from nexus_ml.domain.crisis import ErrorType
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import ConfigError, DataQualityError, InputError
from nexus_ml.execute.audit import AuditEntry, MemoryAudit, Redactor
from nexus_ml.sim import BadRelease, ErrorBurst, MemoryLeak, SlowDependency
from tests.crisis.conftest import NOW, Collect, at


def test_bundled_plans_cover_every_type_with_their_retention() -> None:
    plans = load_collection_plans()
    assert set(plans.plans) == set(ErrorType)
    retention = {t: plans.for_type(t).retention_days for t in ErrorType}
    assert retention[ErrorType.DATABASE_CORRUPTION] == 365
    assert retention[ErrorType.CRASH] == 90
    assert retention[ErrorType.UI_BUG] == 14
    # What is kept longest is what is costliest to lose.
    assert max(retention, key=lambda t: retention[t]) == ErrorType.DATABASE_CORRUPTION
    for plan in plans.plans.values():
        assert set(plan.metrics) <= set(METRIC_FIELDS)


@pytest.mark.parametrize("error_type", list(ErrorType))
def test_window_per_type_spans_before_start_to_after_end(error_type: ErrorType) -> None:
    plan = load_collection_plans().for_type(error_type)
    start, end = at(10), at(12)
    window = collection_window(plan, start, end, now=at(20))
    assert window.start == start - timedelta(minutes=plan.before_min)
    assert window.end == end + timedelta(minutes=plan.after_min)
    assert window.step == timedelta(seconds=plan.step_s)
    # Never past now, and an open incident runs up to now.
    assert collection_window(plan, start, end, now=at(12)).end == at(12)
    assert collection_window(plan, start, None, now=at(13)).end == at(13)


def test_windows_differ_by_type() -> None:
    plans = load_collection_plans()
    before = {t: plans.for_type(t).before_min for t in ErrorType}
    # A leak builds up for hours, a UI bug shows at once; corruption needs the day before.
    assert before[ErrorType.MEMORY_LEAK] > before[ErrorType.UI_BUG]
    assert before[ErrorType.DATABASE_CORRUPTION] >= 24 * 60


def test_window_rejects_future_start_and_end_before_start() -> None:
    plan = load_collection_plans().for_type(ErrorType.CRASH)
    with pytest.raises(InputError, match="in the future"):
        collection_window(plan, at(10), None, now=at(9))
    with pytest.raises(InputError, match="before its start"):
        collection_window(plan, at(10), at(9), now=at(11))


def test_override_changes_only_the_fields_given(tmp_path: Path) -> None:
    path = tmp_path / "plans.yaml"
    path.write_text("plans:\n  DATABASE_CORRUPTION:\n    retention_days: 730\n")
    plans = load_collection_plans(path)
    bundled = load_collection_plans()
    corruption = plans.for_type(ErrorType.DATABASE_CORRUPTION)
    assert corruption.retention_days == 730
    assert corruption.metrics == bundled.for_type(ErrorType.DATABASE_CORRUPTION).metrics
    assert plans.for_type(ErrorType.UI_BUG) == bundled.for_type(ErrorType.UI_BUG)


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("plans:\n  NOT_A_TYPE:\n    retention_days: 3\n", "'NOT_A_TYPE'"),
        ("plans:\n  CRASH:\n    metrics: [cpu_usage, gpu_usage]\n", "'gpu_usage'"),
        ("plans:\n  CRASH:\n    retention_days: 0\n", "0"),
        ("plans:\n  CRASH:\n    evidence: [tea_leaves]\n", "tea_leaves"),
        ("plans: [1, 2\n", "not valid YAML"),
        ("- just a list\n", "'plans' key"),
    ],
)
def test_bad_override_is_a_config_error_quoting_the_value(
    tmp_path: Path, text: str, quoted: str
) -> None:
    path = tmp_path / "plans.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_collection_plans(path)
    assert quoted in str(err.value) and str(path) in str(err.value)


def test_parse_error_type() -> None:
    assert parse_error_type("memory_leak") is ErrorType.MEMORY_LEAK
    with pytest.raises(InputError, match="'LEAKY'"):
        parse_error_type("LEAKY")


def test_collect_keeps_the_plan_fields_over_the_plan_window(collect: Collect) -> None:
    leak = MemoryLeak(module="crm", start=at(13), duration=timedelta(hours=6), magnitude=0.4)
    incident = collect(ErrorType.MEMORY_LEAK, [leak])
    plan = load_collection_plans().for_type(ErrorType.MEMORY_LEAK)
    m = incident.manifest
    assert m.module == "nexus-crm" and m.modules == ("nexus-crm",)
    assert list(incident.frame.columns) == ["module", "timestamp", *plan.metrics]
    assert m.window_start == leak.start - plan.before
    assert m.window_end == leak.end + plan.after
    minutes = plan.before_min + 6 * 60 + plan.after_min
    assert len(incident.frame) == minutes + 1  # both ends on the one-minute grid
    assert m.retention_days == plan.retention_days and m.expires_at == leak.end + timedelta(60)
    assert incident.reference is not None and m.reference_days == 7
    assert incident.evidence["container_logs"]["collected"] is False
    assert "dependencies" not in incident.evidence  # not in a memory leak's plan


def test_collect_slow_dependency_brings_the_dependency_metrics(collect: Collect) -> None:
    slow = SlowDependency(
        module="crm", target="user-management", start=at(15), duration=timedelta(hours=2),
        magnitude=300.0,
    )  # fmt: skip
    incident = collect(ErrorType.SLOW_DEPENDENCY, [slow])
    assert incident.manifest.modules == ("nexus-crm", "nexus-user-management")
    assert set(incident.frame["module"]) == {"nexus-crm", "nexus-user-management"}
    assert incident.evidence["dependencies"] == {
        "depends_on": ["nexus-user-management"],
        "dependents": ["nexus-agendamento"],
    }
    assert "container_logs" not in incident.evidence


def test_audit_and_deploy_evidence_are_the_module_s_entries_in_the_window(
    collect: Collect,
) -> None:
    release = BadRelease(module="crm", start=at(15), duration=timedelta(hours=1), magnitude=1.0)
    audit = MemoryAudit(redactor=Redactor(["hunter2-secret"]))
    audit.write(AuditEntry(at=at(15), event="deploy", module="nexus-crm",
                           data={"version": "2", "previous_version": "1"}))  # fmt: skip
    audit.write(AuditEntry(at=at(15.5), event="action_taken", module="nexus-crm",
                           action="rollback", detail="token hunter2-secret"))  # fmt: skip
    audit.write(AuditEntry(at=at(15.5), event="action_taken", module="nexus-agendamento"))
    audit.write(AuditEntry(at=at(2), event="action_taken", module="nexus-crm"))  # too early
    incident = collect(ErrorType.ERROR_BURST, [release], audit=audit)
    events = [(e["event"], e["module"]) for e in incident.evidence["audit"]]
    assert events == [("deploy", "nexus-crm"), ("action_taken", "nexus-crm")]
    assert incident.evidence["deploy_versions"] == [
        {"at": at(15).isoformat().replace("+00:00", "Z"), "module": "nexus-crm",
         "event": "deploy", "version": "2", "previous": "1"}
    ]  # fmt: skip
    assert "hunter2-secret" not in str(incident.evidence)


def test_no_data_for_the_module_is_a_data_quality_error(collect: Collect) -> None:
    burst = ErrorBurst(module="crm", start=at(15), duration=timedelta(hours=1), magnitude=0.2)
    moved = ErrorBurst(
        module="crm", start=NOW + timedelta(days=-30), duration=timedelta(hours=1), magnitude=0.2
    )
    with pytest.raises(DataQualityError, match="no metrics for nexus-crm"):
        collect(ErrorType.ERROR_BURST, [moved, burst])


def test_evidence_kinds_are_known() -> None:
    for plan in load_collection_plans().plans.values():
        assert all(isinstance(k, EvidenceKind) for k in plan.evidence)


def test_incident_id_is_in_utc_whatever_the_offset_given() -> None:
    from datetime import timezone

    from nexus_ml.crisis.collect import incident_id

    sao_paulo = at(15).astimezone(timezone(timedelta(hours=-3)))
    assert incident_id("nexus-crm", ErrorType.CRASH, sao_paulo) == "20260309T1500Z-crm-crash"
