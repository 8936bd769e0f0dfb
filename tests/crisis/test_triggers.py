"""The error type a crisis opened by a policy decision is filed under, from its evidence."""

from __future__ import annotations

import pytest

from nexus_ml.crisis.rules import Severity
from nexus_ml.crisis.triggers import decision_error_type, decision_severity
from nexus_ml.domain.decision import Evidence
from tests.execute.conftest import decision


@pytest.mark.parametrize(
    ("action", "kind", "detail", "error_type"),
    [
        ("alert", "failing_requests", "error rate 12.0% above 5% for 3 min", "ERROR_BURST"),
        ("alert", "slow_link", "slow calls (> 100 ms): a → b 312 ms", "SLOW_DEPENDENCY"),
        ("restart", "memory_trend", "the limit in 9 min (memory trend)", "MEMORY_LEAK"),
        ("alert", "memory_watch", "48% of the limit, rising: the limit in 174 min", "MEMORY_LEAK"),
        ("restart", "health", "response time 4.0x baseline (seed rule)", "CRASH"),
        ("alert", "latency_trend", "3x in 8 min (response-time trend)", "PERFORMANCE_DEGRADATION"),
    ],
)
def test_a_decision_files_its_crisis_under_what_its_evidence_says(
    action: str, kind: str, detail: str, error_type: str
) -> None:
    d = decision(
        "nexus-crm",
        action,
        reason=detail,
        alert_admin=True,
        explanation=(Evidence(kind=kind, detail=detail),),
    )
    assert decision_severity(d) is Severity.HIGH
    assert decision_error_type(d) == error_type
