"""What counts as a crisis: the events that open an incident, their severity and error type.

A crisis action is a restart or a rollback (taken or skipped), an alert at HIGH or above, or a
failed release (a decision whose ``canary`` evidence reports a regression). Anything else the
executor handles for a module is a "healthy" observation: enough of them for long enough close
the module's incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nexus_ml.crisis.rules import CrisisRules, Severity
from nexus_ml.decide.health import FAILING_REQUESTS
from nexus_ml.decide.trend import MEMORY_TREND, MEMORY_WATCH
from nexus_ml.domain.decision import Action, Decision

#: Alert names → error type, first match wins (lower-case substrings).
_ALERT_TYPES = (
    ("payment", "PAYMENT_FAILURE"),
    ("integration", "INTEGRATION_BREAK"),
    ("dependency", "SLOW_DEPENDENCY"),
    ("memory", "MEMORY_LEAK"),
    ("latency", "PERFORMANCE_DEGRADATION"),
    ("slow", "PERFORMANCE_DEGRADATION"),
    ("down", "CRASH"),
    ("crash", "CRASH"),
    ("release", "ERROR_BURST"),
    ("error", "ERROR_BURST"),
)
_ALERT_SEVERITY = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "high": Severity.HIGH,
    "error": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "info": Severity.LOW,
    "low": Severity.LOW,
}


@dataclass(frozen=True)
class CrisisEvent:
    """One thing the collection worker must know about a module.

    ``severity`` ``None`` means a healthy observation (nothing critical happened).
    """

    at: datetime
    module: str
    source: str  # executor | alertmanager
    action: str = ""
    acted: bool = False
    reason: str = ""
    detail: str = ""
    severity: Severity | None = None
    error_type: str = ""
    image: str = ""
    trigger: str = ""

    @property
    def is_crisis(self) -> bool:
        return self.severity is not None


def _kinds(decision: Decision) -> set[str]:
    return {e.kind for e in decision.explanation}


def failed_release(decision: Decision) -> str | None:
    """The canary's regression text when the release gate failed the module's new version.

    The policy attaches the canary's evidence to every decision after a deploy, also when the
    release is fine ("no regression"): only a regression counts.
    """
    for e in decision.explanation:
        if e.kind == "canary" and "regression in" in e.detail:
            return e.detail
    return None


def decision_error_type(decision: Decision) -> str:
    """The error type a crisis decision points at (from its action and evidence)."""
    kinds = _kinds(decision)
    regression = failed_release(decision)
    if regression is not None and "error_rate" not in regression:
        return "PERFORMANCE_DEGRADATION"  # the canary's own split (decide/canary.py)
    if regression is not None or decision.action is Action.ROLLBACK:
        return "ERROR_BURST"  # a failed release: errors came with a new version
    if FAILING_REQUESTS in kinds:
        return "ERROR_BURST"  # requests failing without slowness
    if "slow_link" in kinds:
        return "SLOW_DEPENDENCY"
    reason = decision.reason.lower()
    if MEMORY_TREND in kinds or MEMORY_WATCH in kinds or "memory" in reason or "memória" in reason:
        return "MEMORY_LEAK"
    if "health" in kinds and decision.action is Action.RESTART:
        return "CRASH"
    return "PERFORMANCE_DEGRADATION"


def decision_severity(decision: Decision) -> Severity | None:
    """The crisis severity of ``decision``, ``None`` when it is no crisis."""
    if decision.action is Action.ROLLBACK or failed_release(decision) is not None:
        return Severity.CRITICAL
    if decision.action is Action.RESTART:
        return Severity.HIGH
    if decision.alert_admin:
        # the policy wants a human (an Alertmanager alert firing, a module at its maximum and
        # still overloaded): HIGH, whatever the primary action
        return Severity.HIGH
    if decision.action is Action.ALERT:
        return Severity.MEDIUM  # a plain advisory alert opens nothing
    return None


def outcome_event(
    at: datetime,
    decision: Decision,
    *,
    acted: bool,
    reason: str,
    detail: str = "",
    image: str = "",
) -> CrisisEvent:
    """The event of one handled decision; crisis-level only from HIGH up."""
    severity = decision_severity(decision)
    if severity is not None and severity.rank < Severity.HIGH.rank:
        severity = None
    verb = "taken" if acted else f"skipped ({reason})"
    return CrisisEvent(
        at=at,
        module=decision.module,
        source="executor",
        action=decision.action.value,
        acted=acted,
        reason=reason,
        detail=detail or decision.reason,
        severity=severity,
        error_type=decision_error_type(decision) if severity else "",
        image=image,
        trigger=f"{decision.action.value} {verb}: {decision.reason}"[:300],
    )


def alert_event(
    at: datetime, module: str, labels: dict[str, str], rules: CrisisRules
) -> CrisisEvent | None:
    """The event of a firing Alertmanager alert (``None`` below HIGH)."""
    severity = _ALERT_SEVERITY.get(labels.get("severity", "").lower(), Severity.MEDIUM)
    if severity.rank < Severity.HIGH.rank:
        return None
    name = labels.get("alertname", "")
    wanted = labels.get("error_type", "").upper()
    error_type = wanted if wanted in rules.error_types else ""
    if not error_type:
        lowered = name.lower()
        error_type = next((t for word, t in _ALERT_TYPES if word in lowered), "ERROR_BURST")
    return CrisisEvent(
        at=at,
        module=module,
        source="alertmanager",
        action="alert",
        severity=severity,
        error_type=error_type,
        trigger=f"Alertmanager: {name} ({labels.get('severity', '?')})",
    )
