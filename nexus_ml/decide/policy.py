"""One decision per module from every rule of the policy (pure, no I/O).

:func:`decide` takes what the service gathered — the recent window, the forecast of demand over
the start-up lead time, the anomaly scores, the module's profile — and what it remembers about
the module, and returns a :class:`~nexus_ml.domain.Decision` plus the memory to keep. The
primary action is the most urgent one (rollback, restart, scale up, alert, scale down, hold);
the flags carry the others.

Confidence is a probability read from the forecast distribution when a model decides: for a
scale-up, P(demand exceeds the current capacity within the lead time); for a scale-down, P(the
smaller capacity still suffices); for a hold, P(the current capacity suffices). The seed's rules
give a fixed, lower confidence; a restart takes the anomaly score's; a rollback the rollback
analysis's. A scale-up for an overload the forecast has not seen yet (degraded symptoms with
saturation or a demand jump, see :mod:`nexus_ml.decide.load`) takes the health check's.
Stale or missing data caps a hold or scale-up at 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from nexus_ml.catalog import Catalog, ModuleProfile
from nexus_ml.decide import canary as canary_judge
from nexus_ml.decide.guards import (
    Freshness,
    apply_cooldown,
    assess_freshness,
    clamp_to_profile,
    hold_on_bad_data,
)
from nexus_ml.decide.health import (
    HealthAssessment,
    HealthThresholds,
    assess_health,
    response_baseline,
    restarts_in_window,
)
from nexus_ml.decide.links import LinkLatency, describe, links_from_network_latency, slow_links
from nexus_ml.decide.load import assess_load, replicas_for_overload
from nexus_ml.decide.rollback import analyse_rollback
from nexus_ml.decide.scale_target import finite, model_scaling, rules_scaling
from nexus_ml.decide.scaling import ScalingState
from nexus_ml.decide.window import MetricWindow
from nexus_ml.domain import Action, Decision, Evidence, RollbackDecision


@dataclass(frozen=True)
class ForecastView:
    """The demand forecast (requests per minute) over the next steps, with its interval."""

    timestamps: tuple[datetime, ...]
    mean: tuple[float, ...]
    lo: tuple[float, ...]
    hi: tuple[float, ...]
    level: float = 80.0


@dataclass(frozen=True)
class PolicyConfig:
    max_age_s: float = 180.0  # newest observation older than this: stale
    scale_down_cooldown_s: float = 300.0
    scale_up_cooldown_s: float = 0.0
    demand_minutes: int = 30  # recent demand handed to the scaling function
    slow_link_ms: float = 500.0
    health: HealthThresholds = field(default_factory=HealthThresholds)
    canary: canary_judge.CanaryConfig = field(default_factory=canary_judge.CanaryConfig)


@dataclass(frozen=True)
class ModuleMemory:
    """What the policy remembers about a module between calls (the caller stores it).

    ``previous`` is the memory before the newest observation: asking again about the same
    minute decides from it, so repeated calls give the same answer and count once.
    """

    current_replicas: int | None = None
    scaling: ScalingState = field(default_factory=ScalingState)
    observed_at: datetime | None = None
    last_change_at: datetime | None = None
    restarts: tuple[datetime, ...] = ()
    previous: ModuleMemory | None = None


@dataclass(frozen=True)
class DecisionInputs:
    profile: ModuleProfile
    window: MetricWindow
    now: datetime
    current_replicas: int | None = None  # None: window, then memory, then the catalog minimum
    forecast: ForecastView | None = None  # None: no champion, the seed's rules decide
    anomaly: Mapping[str, float] | None = None  # per-field scores and "combined", newest minute
    model_versions: Mapping[str, str] = field(default_factory=dict)
    link_latencies: Sequence[LinkLatency] | None = None
    deployed_at: datetime | None = None  # a recent deploy: judge it against the minutes before
    catalog: Catalog | None = None  # for the rollback scope of a failed deploy


def _guard(
    raw: int,
    current: int,
    fresh: Freshness,
    since_change_s: float | None,
    profile: ModuleProfile,
    cfg: PolicyConfig,
) -> tuple[int, list[Evidence]]:
    # order matters: bad data holds first, then the cooldown, and the catalog bounds last
    held = hold_on_bad_data(raw, current, fresh, profile)
    cooled = apply_cooldown(
        held.target,
        current,
        since_change_s,
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


def _canary(
    inputs: DecisionInputs, cfg: PolicyConfig
) -> tuple[RollbackDecision | None, list[Evidence]]:
    if inputs.deployed_at is None or inputs.catalog is None:
        return None, []
    w = inputs.window
    split = sum(1 for ts in w.timestamps if ts < inputs.deployed_at)
    metrics = ("error_rate", "response_time")
    report = canary_judge.judge_canary(
        {m: w.field(m)[:split] for m in metrics},
        {m: w.field(m)[split:] for m in metrics},
        config=cfg.canary,
    )
    evidence = [Evidence(kind="canary", detail=report.summary(), value=report.score)]
    if not report.regression or report.error_type is None:
        return None, evidence
    _, decision = analyse_rollback(inputs.catalog, inputs.profile.name, report.error_type)
    return decision, evidence


def _primary(
    scale_target: int,
    current: int,
    health: HealthAssessment,
    slow: bool,
    rollback: RollbackDecision | None,
) -> Action:
    if rollback is not None:
        return Action.ROLLBACK
    if health.restart:
        return Action.RESTART
    if scale_target > current:
        return Action.SCALE_UP
    if health.alert or slow:
        return Action.ALERT
    if scale_target < current:
        return Action.SCALE_DOWN
    return Action.HOLD


def decide(
    inputs: DecisionInputs,
    memory: ModuleMemory = ModuleMemory(),
    config: PolicyConfig = PolicyConfig(),
) -> tuple[Decision, ModuleMemory]:
    """The decision for one module now, and the memory to pass next time.

    Parameters
    ----------
    inputs
        The window, the forecast (None: the seed's rules decide, ``policy="rules"``), the
        anomaly scores and the module's profile.
    memory
        What the previous call returned for this module.
    config
        Thresholds and cooldowns.
    """
    window, profile, now = inputs.window, inputs.profile, inputs.now
    last = window.last_observed
    if memory.previous is not None and last is not None and last == memory.observed_at:
        memory = memory.previous  # the same minute again: decide as the first time
    current = inputs.current_replicas
    if current is None:
        current = window.last_replicas()
    if current is None:
        current = (
            memory.current_replicas if memory.current_replicas is not None else profile.min_replicas
        )
    since_change_s = (
        None if memory.last_change_at is None else (now - memory.last_change_at).total_seconds()
    )
    demand = window.field("requests_per_min")[-5:]
    fresh = assess_freshness(last, now, list(demand), max_age_s=config.max_age_s)

    if inputs.forecast is not None:
        scaling = model_scaling(inputs, inputs.forecast, current, memory.scaling, config)
    else:
        since_min = math.inf if since_change_s is None else since_change_s / 60.0
        scaling = rules_scaling(inputs, current, since_min, memory.scaling)

    rt, err = window.field("response_time"), window.field("error_rate")
    baseline = response_baseline(rt, recent=max(config.health.sustain_min, 15))
    anomaly = None if inputs.anomaly is None else inputs.anomaly.get("combined")
    used = restarts_in_window(memory.restarts, now, config.health.budget_window)
    load = assess_load(
        window.field("requests_per_min"),
        current=current,
        capacity_rpm_per_replica=profile.capacity_rpm_per_replica,
        recent=config.health.sustain_min,
    )
    health = assess_health(
        rt,
        err,
        baseline_ms=baseline,
        anomaly_score=anomaly,
        restarts_used=used,
        utilisation=load.utilisation,
        sustained_score=None if inputs.anomaly is None else inputs.anomaly.get("sustained"),
        demand_ratio=load.demand_ratio,
        thresholds=config.health,
    )
    # replicas added lately have not served a full minute yet: their symptoms are not news
    settling = since_change_s is not None and since_change_s < profile.startup_lead_time_s + 60
    if health.overloaded and fresh.usable and not settling:
        # the symptoms are load the forecast has not seen yet (a step's first minute): size
        # the replicas from the overload itself rather than restart or wait for the forecast
        needed = replicas_for_overload(
            current,
            peak_demand=load.peak_demand,
            error_rate=health.error_rate,
            capacity_rpm_per_replica=profile.capacity_rpm_per_replica,
            target_utilisation=profile.target_utilisation,
        )
        if needed > scaling.target:
            note = Evidence(
                kind="load",
                detail=f"overload needs {needed} replicas at {profile.target_utilisation:.0%}",
                value=float(needed),
            )
            confidence = max(scaling.confidence, health.confidence)
            scaling = replace(
                scaling, target=needed, confidence=confidence, evidence=(*scaling.evidence, note)
            )
    target, guard_notes = _guard(scaling.target, current, fresh, since_change_s, profile, config)

    latencies = inputs.link_latencies
    if latencies is None:
        net = finite(window.field("network_latency"))
        latencies = links_from_network_latency(profile, net[-1]) if net else ()
    slow = slow_links(latencies, threshold_ms=config.slow_link_ms)
    rollback, canary_evidence = _canary(inputs, config)

    action = _primary(target, current, health, bool(slow), rollback)
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
        evidence.append(Evidence(kind="anomaly", detail=f"anomaly scores: {scores}", value=anomaly))
    evidence.extend(Evidence(kind="health", detail=r) for r in health.reasons)
    if slow:
        evidence.append(
            Evidence(
                kind="slow_link",
                detail=describe(slow, threshold_ms=config.slow_link_ms),
                value=slow[0].latency_ms,
            )
        )

    confidence = {
        Action.ROLLBACK: rollback.confidence if rollback else 0.5,
        Action.RESTART: health.confidence,
        Action.ALERT: max(health.confidence, 0.6 if slow else 0.0),
    }.get(action, scaling.confidence)
    if not fresh.usable and action in (Action.HOLD, Action.SCALE_UP):
        confidence = min(confidence, 0.5)  # a decision on stale data is a guess
    reason = (
        "; ".join(
            e.detail
            for e in evidence
            if e.kind in ("guard", "health", "load", "slow_link", "canary", "rule", "scaling")
        )
        or "no change needed"
    )

    decision = Decision(
        module=profile.name,
        action=action,
        current_replicas=current,
        target_replicas=target,
        scale_up=target > current,
        scale_down=target < current,
        restart=health.restart,
        rollback=rollback is not None,
        rollback_scope=rollback.scope if rollback else None,
        alert_admin=health.alert or bool(slow) or rollback is not None,
        reason=reason,
        confidence=round(min(max(confidence, 0.0), 1.0), 4),
        explanation=tuple(evidence),
        policy="model" if inputs.forecast is not None else "rules",
        model_versions=dict(inputs.model_versions),
        decided_at=now,
        stale_input=not fresh.usable,
    )
    stored = replace(memory, previous=None)
    next_memory = ModuleMemory(
        current_replicas=target,
        scaling=scaling.state,
        observed_at=last,
        last_change_at=now if target != current else memory.last_change_at,
        restarts=(
            *[r for r in memory.restarts if now - r < config.health.budget_window],
            *([now] if health.restart else []),
        ),
        previous=stored,
    )
    return decision, next_memory
