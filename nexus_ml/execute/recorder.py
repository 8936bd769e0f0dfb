"""What the executor leaves behind: an audit entry per event and alerts for the operators.

Neither an audit outage nor a notifier outage may stop the loop: both are logged (and an
undelivered alert is audited) and the executor carries on.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from nexus_ml.alerts.notifier import Alert, Notifier
from nexus_ml.alerts.render import Language, phrase
from nexus_ml.domain.decision import Decision
from nexus_ml.errors import NexusError
from nexus_ml.execute.alerting import decision_alert
from nexus_ml.execute.audit import AuditEntry, AuditTrail
from nexus_ml.execute.context import MetricContext

log = logging.getLogger("nexus_ml.execute.loop")  # the executor's one log stream

EXECUTOR_MODULE = "nexus-ml"  # the "module" of alerts about the executor itself


class Recorder:
    """Audit and alert on behalf of one executor.

    Parameters
    ----------
    audit, notifier
        The trail and the operators' channel.
    executor_id
        Written on every audit entry.
    language, dashboard_url
        Of decision alerts.
    context
        Key metrics for decision alerts (requests/min against normal, memory, error rate).
    """

    def __init__(
        self,
        audit: AuditTrail,
        notifier: Notifier,
        *,
        executor_id: str,
        language: Language,
        dashboard_url: str = "",
        context: MetricContext | None = None,
    ) -> None:
        self.trail = audit
        self.notifier = notifier
        self.executor_id = executor_id
        self.language = language
        self.dashboard_url = dashboard_url
        self.context = context

    def audit(
        self,
        now: datetime,
        event: str,
        decision: Decision | None = None,
        *,
        module: str = "",
        reason: str = "",
        detail: str = "",
        data: dict[str, object] | None = None,
    ) -> None:
        """Write one entry (module and action from ``decision`` when given)."""
        entry = AuditEntry(
            at=now,
            event=event,
            module=decision.module if decision else module,
            action=decision.action.value if decision else "",
            reason=reason,
            detail=detail,
            executor=self.executor_id,
            data=data or {},
        )
        try:
            self.trail.write(entry)
        except Exception:  # an audit outage must not stop the loop; it is logged loudly
            log.exception("audit write failed for %s %s", event, entry.module)

    def alert(self, alert: Alert, now: datetime) -> None:
        """Send ``alert`` and audit whether it went out, was grouped, or failed."""
        try:
            sent = self.notifier.send(alert)
        except NexusError as exc:
            log.error("alert %s/%s not delivered: %s", alert.module, alert.problem, exc)
            self.audit(
                now, "alert_failed", module=alert.module, reason=alert.problem, detail=str(exc)
            )
            return
        self.audit(
            now,
            "alert_sent" if sent else "alert_grouped",
            module=alert.module,
            reason=alert.problem,
            detail=alert.action_taken,
        )

    def alert_decision(
        self, now: datetime, decision: Decision, problem: str, taken: str | None
    ) -> None:
        """Send the alert about ``decision`` (built by
        :func:`~nexus_ml.execute.alerting.decision_alert`)."""
        alert = decision_alert(
            decision,
            problem,
            taken,
            language=self.language,
            dashboard_url=self.dashboard_url,
            context=self.context,
        )
        self.alert(alert, now)

    def alert_holding(
        self,
        now: datetime,
        problem: str,
        severity: Literal["info", "warning", "critical"],
        *,
        probable_cause: str = "",
        impact: str = "",
        next_action: str = "",
        dashboard_url: str = "",
    ) -> None:
        """Send an alert about the executor itself (module ``nexus-ml``), which holds."""
        alert = Alert(
            module=EXECUTOR_MODULE,
            problem=problem,
            severity=severity,
            action_taken=phrase("hold", self.language),
            impact=impact,
            probable_cause=probable_cause,
            next_action=next_action,
            dashboard_url=dashboard_url,
        )
        self.alert(alert, now)
