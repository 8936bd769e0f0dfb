"""The executor's side of a release rollback: run it, record it, alert, time the stages.

:func:`~nexus_ml.execute.rollback_run.run_rollback` does the cluster and database work; this
module adds what the executor owns: the rollback cooldown of every module rolled back (so no
module's own rollback decision in the same pass returns it to the failed spec), the audit
trail, the operators' alert (sent before the cluster is touched, with the plan; its follow-up
reports what was rolled back and whether it helped), and the detect/analyse/notify stages.
It also orders a pass's decisions so that the widest rollback runs first.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from nexus_ml.alerts.render import Language, phrase
from nexus_ml.catalog import Catalog
from nexus_ml.domain.decision import Action, Decision
from nexus_ml.errors import NexusError
from nexus_ml.execute.actions import rollback_plan
from nexus_ml.execute.alerting import rollback_announcement
from nexus_ml.execute.backend import ClusterBackend, ServiceState
from nexus_ml.execute.guardrails import Guardrails
from nexus_ml.execute.recorder import Recorder
from nexus_ml.execute.rollback_run import RollbackRun, RollbackSetup, run_rollback
from nexus_ml.logs import get_logger

log = get_logger("nexus_ml.execute.loop")  # the executor's one log stream

_KEPT_RUNS = 10


class ReleaseRollbacks:
    """Carry out the rollback decisions the guardrails allowed.

    Parameters
    ----------
    backend, catalog, guardrails, recorder
        The executor's cluster, module graph, memory of applied actions, audit and alerts.
    setup
        Database, smoke requests and release window (see
        :class:`~nexus_ml.execute.rollback_run.RollbackSetup`).
    timeout_s
        Per cluster call.
    language
        Of the alert's phrase.
    """

    def __init__(
        self,
        backend: ClusterBackend,
        catalog: Catalog,
        guardrails: Guardrails,
        recorder: Recorder,
        setup: RollbackSetup,
        *,
        timeout_s: float,
        language: Language,
    ) -> None:
        self.backend = backend
        self.catalog = catalog
        self.guardrails = guardrails
        self.recorder = recorder
        self.setup = setup
        self.timeout_s = timeout_s
        self.language = language
        self.runs: list[RollbackRun] = []  # the last few, newest last

    def apply(
        self,
        now: datetime,
        decision: Decision,
        states: dict[str, ServiceState],
        *,
        fetch_s: float | None,
    ) -> tuple[bool, str, str]:
        """Roll back the decision's scope; ``(acted, reason, detail)`` for the outcome.

        ``fetch_s`` is how long the decision service took to answer (the analyse stage).
        """
        started = time.monotonic()
        # notify before execute (the seed's order): the operators learn of the rollback and its
        # plan while it runs; the follow-up message reports what it achieved
        announced = self.recorder.announce(now, decision, self._plan_phrase(decision))
        notify_s = time.monotonic() - started
        try:
            run = run_rollback(
                self.backend,
                self.catalog,
                decision,
                states,
                self.setup,
                timeout_s=self.timeout_s,
                recently_rolled_back=lambda m: self.guardrails.recently(m, Action.ROLLBACK, now),
                on_step=lambda module: self._rolled_back(now, decision, module),
            )
        except NexusError as exc:
            log.error("executor.rollback_failed", module=decision.module, error=str(exc))
            self.guardrails.record(decision.module, decision.action, now)  # no hammering
            self.recorder.audit(
                now, "action_failed", decision, reason="cluster_error", detail=str(exc)
            )
            self.recorder.alert_decision(
                now, decision, "cluster_error", phrase("failed", self.language, reason=str(exc))
            )
            return False, "cluster_error", str(exc)
        released = states.get(decision.module)
        if released is not None and released.released_at is not None and decision.decided_at:
            detect = (decision.decided_at - released.released_at).total_seconds()
            run.time("detect", detect, clock="executor")
        else:
            run.time("detect", None)
        run.time("analyse", fetch_s)
        run.time("notify", notify_s)
        if announced is not None:
            taken = phrase("rollback", self.language, modules=", ".join(run.rolled_back))
            done = announced.model_copy(update={"action_taken": taken})
            self.recorder.expect_outcome(now, done, decision.action)
        log.info(
            "executor.rolled_back",
            module=decision.module,
            seconds=round(time.monotonic() - started, 1),
            summary=run.summary(),
        )
        self.recorder.audit(
            now,
            "action_taken",
            decision,
            reason="ok",
            detail=run.summary(),
            data={"modules": run.rolled_back, "rollback": run.as_data()},
        )
        self.runs = [*self.runs[-(_KEPT_RUNS - 1) :], run]
        return True, "ok", run.summary()

    def _plan_phrase(self, decision: Decision) -> str:
        try:
            plan = rollback_plan(self.catalog, decision.module, decision.rollback_scope)
        except NexusError:
            plan = (decision.module,)
        return rollback_announcement(decision.rollback_scope, plan, self.language)

    def _rolled_back(self, now: datetime, decision: Decision, module: str) -> None:
        # every module of the chain is in its rollback cooldown: a rollback decision of its
        # own in this pass would return it to the failed spec
        self.guardrails.record(module, Action.ROLLBACK, now)
        self.recorder.audit(now, "rollback_step", decision, reason="ok", detail=module)


def rollbacks_first(decisions: Sequence[Decision], catalog: Catalog) -> list[Decision]:
    """Rollbacks before everything else, the widest first and, between equally wide ones, the
    module others depend on first: a chain that includes a module rolls it back before that
    module's own rollback is looked at (then skipped on its cooldown). The other decisions
    keep their order."""
    order = {m: i for i, m in enumerate(catalog.dependency_order())}

    def rank(d: Decision) -> tuple[int, int]:
        if d.action is not Action.ROLLBACK:
            return (0, 0)
        try:
            width = len(rollback_plan(catalog, d.module, d.rollback_scope))
        except NexusError:
            width = 1
        return (-width, order.get(d.module, len(order)))

    return sorted(decisions, key=rank)
