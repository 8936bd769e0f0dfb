"""The executor loop: fetch decisions, check guardrails, act on the cluster, audit and alert.

One :meth:`Executor.tick` is one pass; :meth:`Executor.run` repeats it every interval. Every
failure mode ends in a hold, a clear log line, an alert and an audit entry — never in a change
the guardrails did not allow.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from nexus_ml.alerts.notifier import Notifier
from nexus_ml.alerts.render import Language, phrase
from nexus_ml.catalog import Catalog, ModuleProfile
from nexus_ml.decide.observed import ModuleObservation
from nexus_ml.domain.decision import Action, Decision
from nexus_ml.errors import NexusError
from nexus_ml.execute.actions import apply_verdict, rollback_plan
from nexus_ml.execute.audit import AuditTrail, utcnow
from nexus_ml.execute.backend import ClusterBackend, ServiceState
from nexus_ml.execute.client import DecisionBatch
from nexus_ml.execute.context import MetricContext
from nexus_ml.execute.guardrails import Guardrails, Verdict
from nexus_ml.execute.incidents import IncidentHook
from nexus_ml.execute.leader import LeaderLock, SoloLock
from nexus_ml.execute.recorder import Recorder
from nexus_ml.execute.rollback_run import RollbackRun, RollbackSetup
from nexus_ml.execute.rollbacks import ReleaseRollbacks, rollbacks_first
from nexus_ml.logs import get_logger

log = get_logger(__name__)

__all__ = ["DecisionSource", "Executor", "ExecutorConfig", "Outcome", "TickReport", "rollback_plan"]


class DecisionSource(Protocol):
    def fetch(self, observed: Mapping[str, ModuleObservation] | None = None) -> DecisionBatch:
        """The current decisions, given what the executor observes (None: nothing)."""
        ...


@dataclass(frozen=True)
class ExecutorConfig:
    interval_s: float = 60.0
    action_timeout_s: float = 60.0
    language: Language = "pt"
    dashboard_url: str = ""
    executor_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")


@dataclass(frozen=True)
class Outcome:
    module: str
    action: Action
    reason: str  # "ok" when applied, else the skip or failure reason
    acted: bool
    detail: str = ""


@dataclass
class TickReport:
    leader: bool
    fetched: bool = False
    outcomes: list[Outcome] = field(default_factory=list)

    def acted(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.acted]


class Executor:
    """Apply the decision service's decisions to a cluster, safely.

    Parameters
    ----------
    source
        Where decisions come from (:class:`~nexus_ml.execute.client.DecisionClient`).
    backend, catalog, guardrails, audit, notifier
        The cluster, the module limits, the checks, the trail, the operators.
    lock
        The leader lock; only the holder acts.
    clock
        Current time (UTC, aware); the demo passes a replayed clock.
    context
        Key metrics for alerts (requests/min against normal, memory, error rate).
    incidents
        Opens, grows and closes incidents from each handled decision (in the background).
    rollback
        What a release rollback may use besides the cluster: the database (FULL_SYSTEM), the
        smoke requests, the release window (see :mod:`nexus_ml.execute.rollback_run`).
    """

    def __init__(
        self,
        source: DecisionSource,
        backend: ClusterBackend,
        catalog: Catalog,
        guardrails: Guardrails,
        audit: AuditTrail,
        notifier: Notifier,
        *,
        lock: LeaderLock | None = None,
        config: ExecutorConfig | None = None,
        clock: Callable[[], datetime] = utcnow,
        context: MetricContext | None = None,
        incidents: IncidentHook | None = None,
        rollback: RollbackSetup | None = None,
    ) -> None:
        self.source = source
        self._fetch_s: float | None = None
        self.context = context
        self.incidents = incidents  # crisis data collection, off the loop's thread
        self.backend = backend
        self.catalog = catalog
        self.guardrails = guardrails
        self.audit = audit
        self.notifier = notifier
        self.lock = lock or SoloLock()
        self.config = config or ExecutorConfig()
        self.clock = clock
        self.recorder = Recorder(
            audit,
            notifier,
            executor_id=self.config.executor_id,
            language=self.config.language,
            dashboard_url=self.config.dashboard_url,
            context=context,
            catalog=catalog,
        )
        self.rollbacks = ReleaseRollbacks(
            backend,
            catalog,
            guardrails,
            self.recorder,
            rollback or RollbackSetup(),
            timeout_s=self.config.action_timeout_s,
            language=self.config.language,
        )
        self._was_leader: bool | None = None  # unknown until the first tick
        self._service_down = False

    @property
    def rollback_setup(self) -> RollbackSetup:
        """What release rollbacks use besides the cluster (database, smoke requests)."""
        return self.rollbacks.setup

    @rollback_setup.setter
    def rollback_setup(self, setup: RollbackSetup) -> None:
        self.rollbacks.setup = setup

    @property
    def rollback_runs(self) -> list[RollbackRun]:
        """The last release rollbacks, newest last."""
        return self.rollbacks.runs

    # -- the loop --------------------------------------------------------------------------
    def run(
        self,
        stop: threading.Event | None = None,
        *,
        max_ticks: int | None = None,
        on_tick: Callable[[TickReport], None] | None = None,
    ) -> None:
        """Tick every ``interval_s`` until ``stop`` is set (or ``max_ticks`` ticks); each
        report goes to ``on_tick`` (the CLI prints it) under the same guard as the tick."""
        stop = stop or threading.Event()
        ticks = 0
        try:
            while not stop.is_set():
                try:
                    report = self.tick()
                    if on_tick is not None:
                        on_tick(report)
                except Exception:  # the loop must survive anything; the tick logs and audits
                    log.exception("executor.tick_failed", executor=self.config.executor_id)
                ticks += 1
                if max_ticks is not None and ticks >= max_ticks:
                    break
                stop.wait(self.config.interval_s)
        finally:
            self.lock.release()

    def tick(self) -> TickReport:
        """One pass: leadership, fetch, then each decision through the guardrails."""
        now = self.clock()
        leader = self.lock.ensure()
        if leader != self._was_leader:
            self.recorder.audit(now, "leader" if leader else "standby", reason="leader_lock")
            log.info(
                "executor.role",
                executor=self.config.executor_id,
                role="leader" if leader else "standby",
            )
            self._was_leader = leader
            if leader:
                self._restore_memory(now)
        report = TickReport(leader=leader)
        if not leader:
            return report
        self.recorder.follow_up(now)  # the measured outcome of actions taken a few minutes ago
        # The cluster first: the service decides from what really runs, not from its hopes.
        try:
            states: dict[str, ServiceState] | None = self.backend.services()
        except NexusError as exc:
            log.error("executor.cluster_unavailable", holding="every decision", error=str(exc))
            self.recorder.audit(now, "cluster_error", reason="cluster_unavailable", detail=str(exc))
            self.recorder.alert_holding(now, "cluster_error", "critical", probable_cause=str(exc))
            states = None
        try:
            asked = time.monotonic()
            batch = self.source.fetch(self._observed(states, now))
            self._fetch_s = time.monotonic() - asked  # the service's analysis, as seen here
        except NexusError as exc:
            self._service_down = True
            self.recorder.service_down(now, exc)
            return report
        report.fetched = True
        if self._service_down:
            self._service_down = False
            log.info("executor.service_back", resuming=True)
            self.recorder.audit(now, "fetch_resumed", reason="service_back")
            self.recorder.alert_holding(now, "resumed", "info")
        for rejected in batch.rejected:
            self.recorder.rejected(now, rejected)
        for decision in rollbacks_first(batch.decisions, self.catalog):
            outcome = self._handle(now, batch, decision, states)
            report.outcomes.append(outcome)
            if self.incidents is not None:  # queues an event; never blocks the loop
                self.incidents.submit(now, decision, outcome, (states or {}).get(decision.module))
        return report

    def _observed(
        self, states: dict[str, ServiceState] | None, now: datetime
    ) -> dict[str, ModuleObservation]:
        """Per catalog module: the replicas its service runs and what was applied lately."""
        seen = states or {}
        observed: dict[str, ModuleObservation] = {}
        for m in self.catalog:
            applied = self.guardrails.applied(m.name, now)
            state = seen.get(m.name)
            if state is None:
                observed[m.name] = ModuleObservation(recent_actions=applied)
                continue
            observed[m.name] = ModuleObservation(
                replicas=state.replicas,
                recent_actions=applied,
                image=state.image,
                version=state.version,
                updated_at=state.updated_at,
                previous_image=state.previous_image,
                released_at=state.released_at,
                update_state=state.update_state,
                rolled_back=state.rolled_back,
            )
        return observed

    # -- one decision ----------------------------------------------------------------------
    def _handle(
        self,
        now: datetime,
        batch: DecisionBatch,
        decision: Decision,
        states: dict[str, ServiceState] | None,
    ) -> Outcome:
        self.recorder.audit(
            now,
            "decision_received",
            decision,
            reason=decision.reason,
            data=decision.model_dump(mode="json"),
        )
        profile = self._profile(decision.module)
        if decision.stale_input:
            self.recorder.alert_decision(now, decision, "metrics_unavailable", None)
        if states is None:
            return self._skipped(
                now,
                decision,
                Verdict(
                    False,
                    decision.action,
                    decision.module,
                    "cluster_unavailable",
                    "cluster state unknown",
                ),
                alert=False,
            )
        verdict = self.guardrails.check(
            decision,
            states.get(decision.module),
            profile,
            now=now,
            decided_at=decision.decided_at or batch.generated_at,
        )
        if not verdict.act:
            outcome = self._skipped(now, decision, verdict, alert=verdict.alerting)
            self.recorder.alert_unapplied(now, decision, verdict.reason)
            return outcome
        if not self.lock.ensure():  # lost the lock since the start of the tick
            return self._skipped(
                now,
                decision,
                Verdict(False, decision.action, decision.module, "not_leader", "leader lock lost"),
                alert=False,
            )
        return self._apply(now, decision, verdict, states[decision.module], states)

    def _apply(
        self,
        now: datetime,
        decision: Decision,
        verdict: Verdict,
        state: ServiceState,
        states: dict[str, ServiceState] | None = None,
    ) -> Outcome:
        if decision.action is Action.ROLLBACK and verdict.target is None:
            acted, reason, detail = self.rollbacks.apply(
                now, decision, states or {decision.module: state}, fetch_s=self._fetch_s
            )
            return Outcome(decision.module, decision.action, reason, acted, detail)
        lang = self.config.language
        try:
            applied = apply_verdict(
                self.backend,
                self.catalog,
                decision,
                verdict,
                state,
                timeout_s=self.config.action_timeout_s,
                language=lang,
                on_rollback_step=lambda module: self.recorder.audit(
                    now, "rollback_step", decision, reason="ok", detail=module
                ),
            )
        except NexusError as exc:
            log.error(
                "executor.action_failed",
                action=decision.action.value,
                module=decision.module,
                error=str(exc),
            )
            self.guardrails.record(decision.module, decision.action, now)  # no hammering
            self.recorder.audit(
                now, "action_failed", decision, reason="cluster_error", detail=str(exc)
            )
            self.recorder.alert_decision(
                now, decision, "cluster_error", phrase("failed", lang, reason=str(exc))
            )
            return Outcome(decision.module, decision.action, "cluster_error", False, str(exc))
        self.guardrails.record(decision.module, decision.action, now)
        log.info(
            "executor.action_applied",
            action=decision.action.value,
            module=decision.module,
            detail=verdict.detail,
        )
        self.recorder.audit(
            now,
            "action_taken",
            decision,
            reason="ok",
            detail=verdict.detail,
            data={"target": verdict.target, "modules": list(applied.modules)},
        )
        self.recorder.alert_applied(now, decision, applied.taken)  # scale-ups too (grouped)
        return Outcome(decision.module, decision.action, "ok", True, verdict.detail)

    # -- failure paths ---------------------------------------------------------------------
    def _skipped(
        self, now: datetime, decision: Decision, verdict: Verdict, *, alert: bool
    ) -> Outcome:
        self.recorder.skipped(now, decision, verdict, alert=alert)
        return Outcome(decision.module, decision.action, verdict.reason, False, verdict.detail)

    def _restore_memory(self, now: datetime) -> None:
        """Seed cooldowns and the hourly cap from the trail, so a standby that takes over does
        not repeat what the old leader just did."""
        try:
            recent = self.audit.since(now - timedelta(hours=1))
        except Exception:
            log.warning("executor.audit_unreadable", cooldowns="start empty", exc_info=True)
            return
        for entry in recent:
            if entry.event == "action_taken" and entry.action in Action._value2member_map_:
                self.guardrails.record(entry.module, Action(entry.action), entry.at)

    # -- helpers ---------------------------------------------------------------------------
    def _profile(self, module: str) -> ModuleProfile | None:
        try:
            return self.catalog.get(module)
        except NexusError:
            return None
