"""One decision per module from every rule of the policy (pure, no I/O, no memory).

:func:`decide` takes what the service gathered — the recent window, the module's scaling
strategy (already fed the window), the anomaly scores, the module's profile — and what the
executor observed (replicas running, actions applied lately), and returns a
:class:`~nexus_ml.domain.Decision`. It remembers nothing between calls: the same inputs give the
same decision, in any service replica. The primary action is the most urgent one (rollback,
restart, scale up, alert, scale down, hold); the flags carry the others.

Confidence is a probability. For a scale-up, the calibrated P(demand exceeds the current
capacity within the lead time); for a scale-down, P(the smaller capacity still suffices); for a
hold, P(the current capacity suffices) (see :mod:`nexus_ml.decide.strategy`). The seed's rules
give a fixed, lower confidence; a restart takes the anomaly score's; a rollback the rollback
analysis's. A scale-up for an overload the forecast has not seen yet (degraded symptoms with
saturation or a demand jump, see :mod:`nexus_ml.decide.load`) takes the health check's.
Stale or missing data caps a hold or scale-up at 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from nexus_ml.catalog import ModuleProfile
from nexus_ml.decide.condition import Condition, SlowLinks, assess_condition, find_slow_links
from nexus_ml.decide.guards import (
    Freshness,
    apply_cooldown,
    assess_freshness,
    clamp_to_profile,
    hold_on_bad_data,
)
from nexus_ml.decide.health import EARLY_WARNING, FAILING_REQUESTS, HealthAssessment
from nexus_ml.decide.inputs import (
    DecisionInputs,
    PolicyConfig,
    ScaleProposer,
    observed_replicas,
    seconds_since_change,
)
from nexus_ml.decide.links import describe
from nexus_ml.decide.load import replicas_for_overload
from nexus_ml.decide.release_check import check_release, hold_restart_for_canary
from nexus_ml.decide.scale_target import ScaleTarget, rules_scaling, strategy_scaling
from nexus_ml.decide.strategy import Sizing
from nexus_ml.decide.trend import LATENCY_TREND, MEMORY_TREND, MEMORY_WATCH
from nexus_ml.decide.window import finite
from nexus_ml.domain import Action, Decision, Evidence, RollbackDecision

# What callers import from here (the inputs and settings live in decide/inputs.py).
__all__ = ["DecisionInputs", "PolicyConfig", "ScaleProposer", "decide", "observed_replicas"]


def _guard(
    raw: int,
    current: int,
    fresh: Freshness,
    since_change_s: float | None,
    inputs: DecisionInputs,
    cfg: PolicyConfig,
) -> tuple[int, list[Evidence]]:
    """A scale-down waits on the last change that added or replaced replicas (anything but a
    scale-down; read only for a scale-down); successive scale-downs are paced by the
    strategy's stabilisation (or the rules' own wait), not by the cooldown."""
    profile = inputs.profile
    # order matters: bad data holds first, then the cooldown, and the catalog bounds last
    held = hold_on_bad_data(raw, current, fresh, profile)
    shrinking = held.target < current
    cooled = apply_cooldown(
        held.target,
        current,
        seconds_since_change(inputs, scale_downs=False) if shrinking else since_change_s,
        scale_down_cooldown_s=cfg.scale_down_cooldown_s,
        scale_up_cooldown_s=cfg.scale_up_cooldown_s,
    )
    clamped = clamp_to_profile(cooled.target, profile)
    notes = [
        Evidence(kind="guard", detail=g.note, value=float(raw))
        for g in (held, cooled, clamped)
        if g.note
    ]
    return clamped.target, notes


def _at_max_overload(
    inputs: DecisionInputs, current: int, target: int, config: PolicyConfig
) -> Evidence | None:
    """The module runs its maximum, wants no fewer, and demand stays above what that serves:
    nothing left to scale, the operators must know (the catalog's maximum, a node, a code
    path may need them)."""
    p = inputs.profile
    if current < p.max_replicas or target < p.max_replicas:
        return None
    full = p.max_replicas * Sizing.of(p).per_replica_rpm
    recent = finite(inputs.window.field("requests_per_min")[-config.health.sustain_min :])
    if len(recent) < config.health.sustain_min or min(recent) <= full:
        return None
    return Evidence(
        kind="capacity",
        detail=(
            f"at its maximum of {p.max_replicas} replicas and still over capacity: "
            f"{recent[-1]:.0f} rpm against {full:.0f} rpm for {len(recent)} min"
        ),
        value=round(recent[-1], 2),
    )


def _primary(
    scale_target: int,
    current: int,
    health: HealthAssessment,
    slow: bool,
    rollback: RollbackDecision | None,
    saturated: bool = False,
) -> Action:
    if rollback is not None:
        return Action.ROLLBACK
    if health.restart:
        return Action.RESTART
    if scale_target > current:
        return Action.SCALE_UP
    if health.alert or slow or saturated:
        return Action.ALERT
    if scale_target < current:
        return Action.SCALE_DOWN
    return Action.HOLD


def _scale_target(
    inputs: DecisionInputs, current: int, since_change_s: float | None
) -> ScaleTarget:
    """The strategy's target when a champion decides, else the seed's rules."""
    if inputs.strategy is not None:
        return strategy_scaling(inputs.strategy.propose(current))
    since_min = math.inf if since_change_s is None else since_change_s / 60.0
    return rules_scaling(inputs.profile, inputs.window, current, since_min)


def _size_for_overload(
    scaling: ScaleTarget,
    condition: Condition,
    current: int,
    profile: ModuleProfile,
    *,
    usable: bool,
    since_change_s: float | None,
) -> ScaleTarget:
    """An overload the forecast has not seen yet (a step's first minute) sizes the replicas
    from the overload itself rather than restart or wait for the forecast."""
    health = condition.health
    # replicas added lately have not served a full minute yet: their symptoms are not news
    settling = since_change_s is not None and since_change_s < profile.startup_lead_time_s + 60
    if not (health.overloaded and usable and not settling):
        return scaling
    needed = replicas_for_overload(
        current,
        peak_demand=condition.load.peak_demand,
        error_rate=health.error_rate,
        capacity_rpm_per_replica=profile.capacity_rpm_per_replica,
        target_utilisation=profile.target_utilisation,
    )
    if needed <= scaling.target:
        return scaling
    note = Evidence(
        kind="load",
        detail=f"overload needs {needed} replicas at {profile.target_utilisation:.0%}",
        value=float(needed),
    )
    confidence = max(scaling.confidence, health.confidence)
    return replace(
        scaling, target=needed, confidence=confidence, evidence=(*scaling.evidence, note)
    )


def _evidence(
    inputs: DecisionInputs,
    scaling: ScaleTarget,
    guard_notes: list[Evidence],
    canary_evidence: list[Evidence],
    fresh: Freshness,
    health: HealthAssessment,
    condition: Condition,
    slow: SlowLinks,
) -> list[Evidence]:
    evidence: list[Evidence] = [*scaling.evidence, *guard_notes, *canary_evidence]
    age = "none" if fresh.age_s is None else f"{fresh.age_s:.0f} s"
    evidence.append(
        Evidence(
            kind="freshness",
            detail=f"newest metric age {age}; {'usable' if fresh.usable else 'stale or missing'}",
            value=None if fresh.age_s is None else round(fresh.age_s, 1),
        )
    )
    if inputs.anomaly:
        scores = ", ".join(
            f"{k} {v:.2f}" for k, v in sorted(inputs.anomaly.items()) if k != "combined"
        )
        evidence.append(  # the value: the severity the health check read (see assess_health)
            Evidence(kind="anomaly", detail=f"anomaly scores: {scores}", value=health.anomaly)
        )
    evidence.extend(Evidence(kind="health", detail=r) for r in health.reasons)
    if health.warning is not None:
        evidence.append(Evidence(kind=EARLY_WARNING, detail=health.warning, value=health.anomaly))
    if health.failing is not None:
        evidence.append(
            Evidence(kind=FAILING_REQUESTS, detail=health.failing, value=health.error_rate)
        )
    latency_left = condition.latency.minutes_to_limit if condition.latency else None
    for kind, note, left in (
        (
            MEMORY_WATCH if health.memory_watch else MEMORY_TREND,
            health.memory,
            health.memory_left_min,
        ),
        (LATENCY_TREND, health.latency, latency_left),
    ):
        if note is not None and left is not None:  # value: minutes to the limit
            evidence.append(Evidence(kind=kind, detail=note, value=round(left, 1)))
    if slow.links:
        evidence.append(
            Evidence(
                kind="slow_link",
                detail=describe(slow.links, threshold_ms=slow.threshold_ms),
                value=slow.links[0].latency_ms,
            )
        )
    return evidence


_REASON_KINDS = (
    "guard",
    "health",
    EARLY_WARNING,
    MEMORY_TREND,
    MEMORY_WATCH,
    LATENCY_TREND,
    FAILING_REQUESTS,
    "load",
    "slow_link",
    "canary",
    "rule",
    "scaling",
    "capacity",
)


def _reason(evidence: Sequence[Evidence], action: Action) -> str:
    """The decision's reason: its evidence in order, except that a decision that is not a
    scale leads with what decided it, not with why the replica count holds."""
    told = [e for e in evidence if e.kind in _REASON_KINDS]
    if action not in (Action.SCALE_UP, Action.SCALE_DOWN):
        told.sort(key=lambda e: e.kind in ("rule", "scaling"))  # stable: order kept otherwise
    return "; ".join(e.detail for e in told)


def decide(inputs: DecisionInputs, config: PolicyConfig = PolicyConfig()) -> Decision:
    """The decision for one module now, from its inputs alone.

    Parameters
    ----------
    inputs
        The window, the scaling strategy (None: the seed's rules decide, ``policy="rules"``),
        the anomaly scores, the module's profile and what the executor observed.
    config
        Thresholds and cooldowns.
    """
    window, profile, now = inputs.window, inputs.profile, inputs.now
    current = observed_replicas(inputs)
    since_change_s = seconds_since_change(inputs)
    fresh = assess_freshness(
        window.last_observed,
        now,
        list(window.field("requests_per_min")[-5:]),
        max_age_s=config.max_age_s,
    )
    condition = assess_condition(inputs, current, since_change_s, config)
    health = hold_restart_for_canary(condition.health, inputs, config)
    scaling = _size_for_overload(
        _scale_target(inputs, current, since_change_s),
        condition,
        current,
        profile,
        usable=fresh.usable,
        since_change_s=since_change_s,
    )
    target, guard_notes = _guard(scaling.target, current, fresh, since_change_s, inputs, config)
    slow = find_slow_links(inputs, config)
    slowed = bool(slow.links)
    rollback, canary_evidence = check_release(inputs, config)
    saturated = _at_max_overload(inputs, current, target, config) if fresh.usable else None
    action = _primary(target, current, health, slowed, rollback, saturated is not None)
    evidence = _evidence(
        inputs, scaling, guard_notes, canary_evidence, fresh, health, condition, slow
    )
    if saturated is not None:
        evidence.append(saturated)
    confidence = {
        Action.ROLLBACK: rollback.confidence if rollback else 0.5,
        Action.RESTART: health.confidence,
        # an overload at the maximum is observed, not predicted
        Action.ALERT: max(health.confidence, 0.6 if slowed else 0.0, 0.9 if saturated else 0.0),
    }.get(action, scaling.confidence)
    if not fresh.usable and action in (Action.HOLD, Action.SCALE_UP):
        confidence = min(confidence, 0.5)  # a decision on stale data is a guess
    reason = _reason(evidence, action)
    return Decision(
        module=profile.name,
        action=action,
        current_replicas=current,
        target_replicas=target,
        scale_up=target > current,
        scale_down=target < current,
        restart=health.restart,
        rollback=rollback is not None,
        rollback_scope=rollback.scope if rollback else None,
        alert_admin=health.alert or slowed or rollback is not None or saturated is not None,
        reason=reason or "no change needed",
        confidence=round(min(max(confidence, 0.0), 1.0), 4),
        explanation=tuple(evidence),
        policy="model" if inputs.strategy is not None else "rules",
        model_versions=dict(inputs.model_versions),
        decided_at=now,
        stale_input=not fresh.usable,
    )
