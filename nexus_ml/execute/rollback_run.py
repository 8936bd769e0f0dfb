"""A release rollback at its scope, step by step, timed against the seed's budget.

The decision names the failed module and the scope; the plan comes from the catalog
(:func:`~nexus_ml.execute.actions.rollback_plan`): the failed module first, then the modules
that use it, each after the modules it uses. Each member of the plan is

- rolled back to its previous spec when it was released with the failed release (its release
  is at most ``release_window_s`` older than the failed module's), then verified healthy (all
  tasks of the restored spec running, no paused update) before the next one starts;
- left alone but verified healthy when it was not part of the release (nothing to return to);
- skipped when the executor rolled it back moments ago (a second rollback would return to the
  bad spec: Swarm's previous spec of a rolled-back service is the failed one).

A FULL_SYSTEM rollback then returns the database to the last migration release before the
failed one through the migration coordinator (:class:`DatabaseRollback`), and validates:
every service healthy, the database's integrity checks, and smoke requests.

Stages and their budget (the seed's): detect 30 s (release to decision), analyse 60 s (the
decision service's answer), notify 30 s (the operators' alert), execute 2–7 min, validate 60 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from nexus_ml.catalog import Catalog
from nexus_ml.domain.decision import Decision
from nexus_ml.domain.rollback import RollbackScope
from nexus_ml.errors import ClusterError, NexusError
from nexus_ml.execute.actions import rollback_plan
from nexus_ml.execute.backend import ClusterBackend, ServiceState

#: The seed's time budget per stage, in seconds (execute: 2 to 7 minutes, the upper end counts).
SEED_BUDGET_S: dict[str, float] = {
    "detect": 30.0,
    "analyse": 60.0,
    "notify": 30.0,
    "execute": 420.0,
    "validate": 60.0,
}
_UNHEALTHY_UPDATES = frozenset({"paused", "rollback_paused", "updating", "rollback_started"})


class DatabaseRollback(Protocol):
    """The database side of a FULL_SYSTEM rollback (see :mod:`nexus_ml.execute.database`)."""

    def rollback_since(self, released_at: datetime) -> str:
        """Undo the migration releases applied at or after ``released_at``; say what was done."""
        ...

    def verify(self) -> list[str]:
        """The integrity checks after a rollback: one line per check passed.

        Raises
        ------
        NexusError
            A check failed.
        """
        ...


class SmokeCheck(Protocol):
    def __call__(self) -> list[str]:
        """Smoke requests after a rollback: one line per request answered well.

        Raises
        ------
        NexusError
            A request failed.
        """
        ...


@dataclass(frozen=True)
class StageTiming:
    stage: str
    seconds: float | None  # None: not measured
    budget_s: float
    clock: str = "wall"  # "executor" when measured on the executor's clock

    @property
    def within(self) -> bool | None:
        return None if self.seconds is None else self.seconds <= self.budget_s


@dataclass
class RollbackRun:
    """What a release rollback did and how long each stage took."""

    module: str
    scope: RollbackScope
    rolled_back: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # verified healthy, not in the release
    skipped: list[str] = field(default_factory=list)  # rolled back moments ago
    database: str = ""
    validation: list[str] = field(default_factory=list)
    stages: list[StageTiming] = field(default_factory=list)

    def stage(self, name: str) -> StageTiming | None:
        return next((s for s in self.stages if s.stage == name), None)

    def time(self, name: str, seconds: float | None, *, clock: str = "wall") -> None:
        self.stages = [s for s in self.stages if s.stage != name]
        self.stages.append(StageTiming(name, seconds, SEED_BUDGET_S[name], clock))
        order = list(SEED_BUDGET_S)
        self.stages.sort(key=lambda s: order.index(s.stage))

    def summary(self) -> str:
        """One line: what was rolled back, the stages against the budget, the rest (the
        incident report keeps the first 500 characters)."""
        parts = [f"{self.scope.value}: rolled back {', '.join(self.rolled_back) or 'none'}"]
        timed = [
            f"{s.stage} {s.seconds:.1f}/{s.budget_s:.0f} s{'' if s.within else ' OVER'}"
            for s in self.stages
            if s.seconds is not None
        ]
        if timed:
            parts.append("stages " + ", ".join(timed))
        if self.unchanged:
            parts.append(f"unchanged and healthy {', '.join(self.unchanged)}")
        if self.skipped:
            parts.append(f"already rolled back {', '.join(self.skipped)}")
        if self.database:
            parts.append(f"database: {self.database}")
        if self.validation:
            parts.append(f"validated: {'; '.join(self.validation)}")
        return "; ".join(parts)

    def as_data(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "scope": self.scope.value,
            "rolled_back": list(self.rolled_back),
            "unchanged": list(self.unchanged),
            "skipped": list(self.skipped),
            "database": self.database,
            "validation": list(self.validation),
            "stages": {
                s.stage: {
                    "seconds": None if s.seconds is None else round(s.seconds, 3),
                    "budget_s": s.budget_s,
                    "within": s.within,
                    "clock": s.clock,
                }
                for s in self.stages
            },
        }

    def table(self) -> str:
        """The stage timings against the budget, as a plain-text table."""
        lines = [
            f"rollback of {self.module} ({self.scope.value})",
            f"{'stage':<9} {'seconds':>9} {'budget':>8}  verdict",
        ]
        for s in self.stages:
            took = "-" if s.seconds is None else f"{s.seconds:.2f}"
            verdict = {True: "within", False: "OVER", None: "not measured"}[s.within]
            note = "" if s.clock == "wall" else f" ({s.clock} clock)"
            lines.append(f"{s.stage:<9} {took:>9} {s.budget_s:>8.0f}  {verdict}{note}")
        return "\n".join(lines)


def _healthy(backend: ClusterBackend, module: str) -> ServiceState:
    """The module's service, checked: every task of its spec running, no update pending."""
    state = backend.services().get(module)
    if state is None:
        raise ClusterError(f"service of {module!r} not found after the rollback", module=module)
    if state.running < state.replicas or state.update_state in _UNHEALTHY_UPDATES:
        raise ClusterError(
            f"{module!r} not healthy: {state.running}/{state.replicas} running, "
            f"update {state.update_state or 'none'}",
            module=module,
        )
    return state


@dataclass(frozen=True)
class RollbackSetup:
    """What a rollback may use besides the cluster.

    ``database`` rolls the database back in a FULL_SYSTEM rollback (None: no database is
    managed); ``smoke`` sends the smoke requests of the validation; ``release_window_s``
    bounds how much older than the failed release another module's release may be to count
    as part of it.
    """

    database: DatabaseRollback | None = None
    smoke: SmokeCheck | None = None
    release_window_s: float = 1800.0


def run_rollback(
    backend: ClusterBackend,
    catalog: Catalog,
    decision: Decision,
    states: dict[str, ServiceState],
    setup: RollbackSetup,
    *,
    timeout_s: float,
    recently_rolled_back: Callable[[str], bool] = lambda module: False,
    on_step: Callable[[str], None] = lambda module: None,
) -> RollbackRun:
    """Roll back ``decision``'s scope in order, each member verified before the next.

    Returns the run with the ``execute`` and ``validate`` stages timed (the caller adds the
    others).

    Raises
    ------
    NexusError
        From the cluster or the database; the message says where the rollback stopped and
        what it had done.
    """
    scope = decision.rollback_scope or RollbackScope.MODULE_ONLY
    run = RollbackRun(decision.module, scope)
    plan = rollback_plan(catalog, decision.module, scope)
    failed = states.get(decision.module)
    released_at = failed.released_at if failed is not None else None
    since = None if released_at is None else released_at - timedelta(seconds=setup.release_window_s)
    started = time.monotonic()
    try:
        for module in plan:
            state = states.get(module)
            if module != decision.module and recently_rolled_back(module):
                run.skipped.append(module)
                continue
            in_release = module == decision.module or (
                state is not None
                and state.released_at is not None
                and (since is None or state.released_at >= since)
            )
            if in_release:
                backend.rollback(module, timeout_s=timeout_s)
                _healthy(backend, module)
                run.rolled_back.append(module)
                on_step(module)
            else:
                _healthy(backend, module)
                run.unchanged.append(module)
        if scope is RollbackScope.FULL_SYSTEM and setup.database is not None:
            if released_at is None:
                run.database = "not rolled back: the failed release's time is unknown"
            else:
                run.database = setup.database.rollback_since(
                    released_at - timedelta(seconds=setup.release_window_s)
                )
    except NexusError as exc:
        raise NexusError(
            f"rollback stopped in {scope.value} of {decision.module!r} after "
            f"{run.rolled_back or 'none'}: {exc}"
        ) from exc
    run.time("execute", time.monotonic() - started)
    started = time.monotonic()
    run.validation = _validate(backend, plan, setup, database=scope is RollbackScope.FULL_SYSTEM)
    run.time("validate", time.monotonic() - started)
    return run


def _validate(
    backend: ClusterBackend, plan: Sequence[str], setup: RollbackSetup, *, database: bool
) -> list[str]:
    """Health of every module of the plan, the database's integrity, the smoke requests."""
    try:
        lines = [f"{len(plan)} service(s) healthy"]
        for module in plan:
            _healthy(backend, module)
        if database and setup.database is not None:
            lines += setup.database.verify()
        if setup.smoke is not None:
            lines += setup.smoke()
    except NexusError as exc:
        raise NexusError(f"validation after the rollback failed: {exc}") from exc
    return lines
