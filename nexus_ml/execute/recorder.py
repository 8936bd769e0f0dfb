"""What the executor leaves behind: an audit entry per event and alerts for the operators.

Every applied action alerts (routine scale-ups and scale-downs too: the grouper keeps them to
one message per module per 30 min). An alert that went out is followed up: a few minutes later
:meth:`Recorder.follow_up` measures the module's metrics again and sends the observed Impacto
("Tempo de resposta normalizado", or not).

Neither an audit outage nor a notifier outage may stop the loop: both are logged (and an
undelivered alert is audited) and the executor carries on.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Literal

from nexus_ml.alerts.notifier import Alert, Notifier
from nexus_ml.alerts.render import Language, phrase
from nexus_ml.catalog import Catalog
from nexus_ml.domain.decision import Action, Decision
from nexus_ml.errors import NexusError
from nexus_ml.execute.alert_outcome import PendingOutcome, outcome_alert
from nexus_ml.execute.alerting import applied_problem, at_maximum, decision_alert, slow_leak
from nexus_ml.execute.audit import AuditEntry, AuditTrail
from nexus_ml.execute.client import RejectedDecision
from nexus_ml.execute.context import MetricContext
from nexus_ml.execute.guardrails import Verdict
from nexus_ml.logs import get_logger

log = get_logger("nexus_ml.execute.loop")  # the executor's one log stream

EXECUTOR_MODULE = "nexus-ml"  # the "module" of alerts about the executor itself


#: A lasting condition not seen for this long has ended; seen again, it is alerted again.
ONGOING_GAP = timedelta(minutes=15)


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
        Key metrics for decision alerts (requests/min against normal, memory, error rate);
        without it no outcome can be measured, so none is promised.
    catalog
        Capacity per replica of each module (the "acima da capacidade" of a scale alert).
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
        catalog: Catalog | None = None,
    ) -> None:
        self.trail = audit
        self.notifier = notifier
        self.executor_id = executor_id
        self.language = language
        self.dashboard_url = dashboard_url
        self.context = context
        self.catalog = catalog
        self.pending: list[PendingOutcome] = []
        # conditions that last (a module at its maximum and still overloaded): alerted when
        # they start, then quiet while every pass still sees them
        self._ongoing: dict[tuple[str, str], datetime] = {}

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
            log.exception("executor.audit_write_failed", audit_event=event, module=entry.module)

    def alert(self, alert: Alert, now: datetime) -> bool:
        """Send ``alert`` and audit whether it went out, was grouped, or failed; True if sent."""
        try:
            sent = self.notifier.send(alert)
        except NexusError as exc:
            log.error(
                "alert.not_delivered", module=alert.module, problem=alert.problem, error=str(exc)
            )
            self.audit(
                now, "alert_failed", module=alert.module, reason=alert.problem, detail=str(exc)
            )
            return False
        self.audit(
            now,
            "alert_sent" if sent else "alert_grouped",
            module=alert.module,
            reason=alert.problem,
            detail=alert.action_taken,
        )
        return sent

    def alert_decision(
        self, now: datetime, decision: Decision, problem: str, taken: str | None
    ) -> bool:
        """Send the alert about ``decision`` (built by
        :func:`~nexus_ml.execute.alerting.decision_alert`); True if it went out."""
        alert = self._decision_alert(decision, problem, taken)
        return self.alert(alert, now)

    def alert_unapplied(self, now: datetime, decision: Decision, reason: str) -> bool:
        """Alert about a decision the guardrails did not let through, when a human should know.

        An ``alert`` decision, an ``alert_admin`` one that holds, and a restart or rollback
        held back by the confidence bar (the symptoms are real; the action is not sure
        enough to run by itself) are sent; other skips are routine. True if one went out.
        """
        held_back = reason == "low_confidence" and decision.action in (
            Action.RESTART,
            Action.ROLLBACK,
        )
        if held_back:
            return self.alert_decision(now, decision, applied_problem(decision), None)
        if decision.action is Action.ALERT or (
            decision.alert_admin and reason in ("hold", "alert")
        ):
            if at_maximum(decision):
                return self._alert_once(now, decision, "capacity_max")
            if slow_leak(decision):  # hours ahead: once, not every grouping window
                return self._alert_once(now, decision, "memory_leak")
            return self.alert_decision(now, decision, "degradation", None)
        return False

    def _alert_once(self, now: datetime, decision: Decision, problem: str) -> bool:
        """Alert when the condition starts; stay quiet while it goes on (seen again within
        :data:`ONGOING_GAP` of the last time); alert again if it comes back after a gap."""
        key = (decision.module, problem)
        last = self._ongoing.get(key)
        self._ongoing[key] = now
        if last is not None and now - last <= ONGOING_GAP:
            return False
        return self.alert_decision(now, decision, problem, None)

    def alert_applied(self, now: datetime, decision: Decision, taken: str) -> bool:
        """Alert about an applied action and, once sent, schedule its follow-up (the problem
        key is :func:`~nexus_ml.execute.alerting.applied_problem`; routine scale alerts are
        severity info)."""
        alert = self.announce(now, decision, taken)
        if alert is not None:
            self.expect_outcome(now, alert, decision.action)
        return alert is not None

    def announce(self, now: datetime, decision: Decision, taken: str) -> Alert | None:
        """Send the alert about an action being taken; the alert if it went out."""
        problem = applied_problem(decision)
        routine = problem in ("demand_high", "demand_low")
        alert = self._decision_alert(decision, problem, taken, severity="info" if routine else None)
        return alert if self.alert(alert, now) else None

    def expect_outcome(self, now: datetime, alert: Alert, action: Action) -> None:
        """Measure the outcome of the action ``alert`` announced later (see :meth:`follow_up`)."""
        if self.context is not None:
            self.pending.append(PendingOutcome.of(alert, action, now))

    def follow_up(self, now: datetime) -> list[Alert]:
        """Measure the outcome of the actions due by ``now`` and send it (call it every tick).

        Returns the follow-up alerts built (sent or not).
        """
        due = [p for p in self.pending if p.due <= now]
        if not due or self.context is None:
            return []
        self.pending = [p for p in self.pending if p.due > now]
        sent: list[Alert] = []
        for pending in due:
            metrics, _ = self.context.metrics(pending.alert.module)
            alert, helped = outcome_alert(pending, metrics, language=self.language)
            self.audit(
                now,
                "outcome_measured",
                module=alert.module,
                reason="resolved" if helped else "not_resolved",
                detail=alert.impact,
                data={"action": pending.action.value, "metrics": metrics},
            )
            self.alert(alert, now)
            sent.append(alert)
        return sent

    def _decision_alert(
        self,
        decision: Decision,
        problem: str,
        taken: str | None,
        *,
        severity: Literal["info", "warning", "critical"] | None = None,
    ) -> Alert:
        per_replica = None
        if self.catalog is not None and decision.module in self.catalog.names:
            per_replica = self.catalog.get(decision.module).capacity_rpm_per_replica
        return decision_alert(
            decision,
            problem,
            taken,
            language=self.language,
            dashboard_url=self.dashboard_url,
            context=self.context,
            capacity_per_replica=per_replica,
            severity=severity,
        )

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

    # -- what the executor did not do -----------------------------------------------------
    def service_down(self, now: datetime, exc: NexusError) -> None:
        """The decision service did not answer: the executor holds, and says so."""
        log.error("executor.service_unavailable", holding=True, error=str(exc))
        self.audit(now, "fetch_failed", reason="service_unavailable", detail=str(exc))
        self.alert_holding(
            now,
            "service_down",
            "critical",
            impact=phrase("impact_blind", self.language),
            probable_cause=str(exc),
            next_action=phrase("next_operator", self.language),
            dashboard_url=self.dashboard_url,
        )

    def rejected(self, now: datetime, rejected: RejectedDecision) -> None:
        """A decision the executor could not read: logged, audited, alerted, not acted on."""
        module = rejected.module or EXECUTOR_MODULE
        log.error("executor.decision_rejected", module=module, error=rejected.error)
        raw = rejected.raw if isinstance(rejected.raw, dict) else {"raw": repr(rejected.raw)}
        self.audit(
            now,
            "decision_rejected",
            module=module,
            reason="invalid_decision",
            detail=rejected.error,
            data=raw,
        )
        self.alert(
            Alert(
                module=module,
                problem="invalid_decision",
                severity="warning",
                action_taken=phrase("skipped", self.language, reason=rejected.error),
                dashboard_url=self.dashboard_url,
            ),
            now,
        )

    def skipped(self, now: datetime, decision: Decision, verdict: Verdict, *, alert: bool) -> None:
        """A decision the guardrails (or the cluster) held: logged, audited, alerted if asked."""
        level = logging.WARNING if alert else logging.INFO
        if verdict.reason in ("hold", "at_target"):  # routine: one line per module per pass
            level = logging.DEBUG
        log.log(
            level,
            "executor.action_skipped",
            action=decision.action.value,
            module=decision.module,
            reason=verdict.reason,
            detail=verdict.detail,
        )
        self.audit(now, "action_skipped", decision, reason=verdict.reason, detail=verdict.detail)
        if alert:
            self.alert_decision(
                now,
                decision,
                verdict.reason,
                phrase("skipped", self.language, reason=verdict.detail),
            )
