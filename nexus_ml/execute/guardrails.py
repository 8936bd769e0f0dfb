"""Guardrails: the checks between a decision and the cluster.

:meth:`Guardrails.check` is pure apart from the memory of past actions it keeps (cooldowns,
the hourly cap, services seen changed by hand). It never raises for a bad decision: it returns
a :class:`Verdict` saying whether to act and, if not, why — the reason goes to the audit trail.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from nexus_ml.catalog import ModuleProfile
from nexus_ml.decide.observed import ADDING_CHANGES, CHANGES, RecentAction
from nexus_ml.decide.strategy import break_even_confidence
from nexus_ml.domain.decision import Action, Decision
from nexus_ml.execute.backend import ServiceState

# Skip reasons worth waking an operator for; the others (cooldown, preview, ...) are routine.
ALERTING_REASONS = frozenset(
    {"service_unavailable", "stale_decision", "out_of_range", "unknown_module", "stale_input"}
)


def _default_cooldowns() -> dict[Action, float]:
    return {
        Action.SCALE_UP: 60.0,
        Action.SCALE_DOWN: 300.0,
        Action.RESTART: 600.0,
        Action.ROLLBACK: 1800.0,
    }


def _default_confidence() -> dict[Action, float]:
    # The scale bars are the scaling strategy's own acceptance limits, so that a bar never
    # vetoes a change the strategy found worth its cost: a scale-up pays above the break-even
    # probability (the operator's cost of a short minute); a scale-down's confidence is the
    # probability that the smaller count suffices, and the strategy never provisions below the
    # median peak, so it never proposes one below 0.5. The bars stop other sources (rules mode
    # scale-downs carry 0.88) only when they are less sure than that.
    return {
        Action.SCALE_UP: break_even_confidence(),
        Action.SCALE_DOWN: 0.5,
        Action.RESTART: 0.8,
        Action.ROLLBACK: 0.9,
    }


@dataclass(frozen=True)
class GuardrailConfig:
    """Limits of the executor; every duration is in seconds.

    ``cooldown_s[action]`` is the minimum time between two such actions on one module, except
    for scale-downs: a scale-down waits that long after a change that added or replaced
    replicas (a scale-up, a restart, a rollback), so that they settle first; successive
    scale-downs are paced by the strategy's stabilisation window, as Kubernetes replaced the
    HPA's downscale delay by that window (docs/decision-core.md).
    ``max_scale_down_step`` makes replicas fall slowly whatever the policy says; None (the
    default, as Kubernetes' HPA, whose default scale-down policy removes up to 100 % of the
    replicas per period after its 5-minute stabilisation) lets a scale-down reach its target.
    """

    interval_s: float = 60.0
    max_decision_age_intervals: float = 2.0
    cooldown_s: dict[Action, float] = field(default_factory=_default_cooldowns)
    min_confidence: dict[Action, float] = field(default_factory=_default_confidence)
    max_changes_per_hour: int = 20
    max_scale_down_step: int | None = None
    manual_change_hold_s: float = 1800.0
    preview: bool = False


@dataclass(frozen=True)
class Verdict:
    """What to do with one decision: ``act`` with ``target`` replicas, or skip for ``reason``."""

    act: bool
    action: Action
    module: str
    reason: str  # a short key: "ok", "cooldown", "stale_decision", ...
    detail: str = ""
    target: int | None = None

    @property
    def alerting(self) -> bool:
        return not self.act and self.reason in ALERTING_REASONS


class Guardrails:
    """Decide whether a decision may be applied now.

    Parameters
    ----------
    config
        The limits.
    """

    def __init__(self, config: GuardrailConfig | None = None) -> None:
        self.config = config or GuardrailConfig()
        self._last: dict[tuple[str, Action], datetime] = {}
        self._changes: deque[datetime] = deque()
        self._manual_since: dict[str, datetime] = {}
        self._applied: deque[tuple[str, Action, datetime]] = deque()  # the last hour's

    def check(
        self,
        decision: Decision,
        state: ServiceState | None,
        profile: ModuleProfile | None,
        *,
        now: datetime,
        decided_at: datetime,
    ) -> Verdict:
        """The verdict on ``decision`` given the service's ``state`` (None: unavailable).

        ``decided_at`` is when the decision was made (the decision's own stamp, or the batch's).
        """
        cfg = self.config

        def skip(reason: str, detail: str) -> Verdict:
            return Verdict(False, decision.action, decision.module, reason, detail)

        if profile is None:
            return skip("unknown_module", f"module {decision.module!r} is not in the catalog")
        age = (now - decided_at).total_seconds()
        max_age = cfg.max_decision_age_intervals * cfg.interval_s
        if age > max_age:
            return skip("stale_decision", f"decision is {age:.0f} s old (limit {max_age:.0f} s)")
        if decision.action not in CHANGES:
            return skip(decision.action.value, decision.reason or "nothing to change")
        if state is None:
            return skip("service_unavailable", f"service of {decision.module!r} not found")
        if decision.stale_input and decision.action is not Action.SCALE_UP:
            # Missing metrics can look like a quiet service: only the safe direction is allowed.
            return skip("stale_input", f"{decision.action.value} refused: input metrics missing")
        if self._held_for_manual_change(decision.module, state, now):
            return skip(
                "manual_change",
                f"{decision.module!r} was changed by hand; left alone for "
                f"{cfg.manual_change_hold_s:.0f} s",
            )
        needed = cfg.min_confidence.get(decision.action, 0.0)
        if decision.confidence < needed:
            return skip(
                "low_confidence", f"confidence {decision.confidence:.2f} below {needed:.2f}"
            )
        target: int | None = None
        if decision.action in (Action.SCALE_UP, Action.SCALE_DOWN):
            lo, hi = profile.min_replicas, profile.max_replicas
            if not lo <= decision.target_replicas <= hi:
                return skip(
                    "out_of_range",
                    f"target_replicas {decision.target_replicas} outside [{lo}, {hi}]",
                )
            target = decision.target_replicas
            if decision.action is Action.SCALE_UP and target <= state.replicas:
                return skip("at_target", f"already {state.replicas} replicas (target {target})")
            if decision.action is Action.SCALE_DOWN:
                if target >= state.replicas:
                    return skip("at_target", f"already {state.replicas} replicas (target {target})")
                if cfg.max_scale_down_step is not None:
                    target = max(target, state.replicas - cfg.max_scale_down_step)
        wait = self._cooldown_left(decision.module, decision.action, now)
        if wait > 0:
            return skip("cooldown", f"{decision.action.value} cooldown: {wait:.0f} s left")
        while self._changes and (now - self._changes[0]).total_seconds() >= 3600:
            self._changes.popleft()
        if len(self._changes) >= cfg.max_changes_per_hour:
            return skip("change_cap", f"{cfg.max_changes_per_hour} changes in the last hour")
        if cfg.preview:
            return Verdict(
                False,
                decision.action,
                decision.module,
                "preview",
                _describe(decision.action, state, target),
                target,
            )
        return Verdict(
            True,
            decision.action,
            decision.module,
            "ok",
            _describe(decision.action, state, target),
            target,
        )

    def record(self, module: str, action: Action, now: datetime) -> None:
        """Remember an applied action (for cooldowns, the hourly cap and what the decision
        service is told the executor did)."""
        self._last[(module, action)] = now
        self._changes.append(now)
        self._manual_since.pop(module, None)
        self._applied.append((module, action, now))
        while self._applied and (now - self._applied[0][2]).total_seconds() >= 3600:
            self._applied.popleft()

    def recently(self, module: str, action: Action, now: datetime) -> bool:
        """Whether ``action`` was applied to ``module`` within its cooldown."""
        return self._last.get((module, action)) is not None and (
            self._cooldown_left(module, action, now) > 0
        )

    def applied(self, module: str, now: datetime) -> tuple[RecentAction, ...]:
        """The actions applied to ``module`` in the hour before ``now``, oldest first."""
        return tuple(
            RecentAction(action, at)
            for m, action, at in self._applied
            if m == module and 0 <= (now - at).total_seconds() < 3600
        )

    def _cooldown_left(self, module: str, action: Action, now: datetime) -> float:
        cooldown = self.config.cooldown_s.get(action, 0.0)
        last = self._last.get((module, action))
        if action is Action.SCALE_DOWN:
            added = [self._last.get((module, a)) for a in ADDING_CHANGES]
            last = max((at for at in added if at is not None), default=None)
        if last is None:
            return 0.0
        return cooldown - (now - last).total_seconds()

    def _held_for_manual_change(self, module: str, state: ServiceState, now: datetime) -> bool:
        if not state.updated_by_hand:
            self._manual_since.pop(module, None)
            return False
        since = self._manual_since.setdefault(module, now)
        return (now - since).total_seconds() < self.config.manual_change_hold_s


def _describe(action: Action, state: ServiceState, target: int | None) -> str:
    if target is not None:
        return f"{action.value} {state.replicas} -> {target} replicas"
    return f"{action.value} (image {state.image})"
