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
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

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
    EARLY_WARNING,
    FAILING_REQUESTS,
    HealthAssessment,
    HealthThresholds,
    assess_health,
    response_baseline,
    restarts_in_window,
)
from nexus_ml.decide.links import (
    LinkLatency,
    describe,
    links_from_network_latency,
    slow_links,
    slow_threshold_ms,
)
from nexus_ml.decide.load import LoadView, assess_load, replicas_for_overload
from nexus_ml.decide.observed import RecentAction, last_change_at, restart_times
from nexus_ml.decide.rollback import analyse_rollback
from nexus_ml.decide.scale_target import ScaleTarget, finite, rules_scaling, strategy_scaling
from nexus_ml.decide.strategy import ScaleProposal, Sizing
from nexus_ml.decide.trend import (
    FIT_MINUTES,
    LATENCY_TREND,
    MEMORY_TREND,
    MEMORY_WATCH,
    WATCH_FIT_MINUTES,
    Trend,
    trend_to_limit,
)
from nexus_ml.decide.window import MetricWindow
from nexus_ml.domain import Action, Decision, Evidence, RollbackDecision


class ScaleProposer(Protocol):
    """The scaling strategy as the policy sees it (see :mod:`nexus_ml.decide.strategy`)."""

    def propose(self, current: int) -> ScaleProposal: ...


@dataclass(frozen=True)
class PolicyConfig:
    max_age_s: float = 180.0  # newest observation older than this: stale
    # a scale-down's wait after a scale-up, restart or rollback (not after a scale-down)
    scale_down_cooldown_s: float = 300.0
    scale_up_cooldown_s: float = 0.0
    slow_link_ms: float = 500.0
    health: HealthThresholds = field(default_factory=HealthThresholds)
    canary: canary_judge.CanaryConfig = field(default_factory=canary_judge.CanaryConfig)


@dataclass(frozen=True)
class DecisionInputs:
    """Everything one decision reads; nothing else (the policy keeps no memory).

    ``current_replicas`` is what the executor observed in the cluster (None: the window's
    replica count, then the catalog minimum); ``recent_actions`` what it applied lately (its
    audit trail). ``strategy`` is the module's scaling strategy, already fed the window
    (None: no champion, the seed's rules decide).
    """

    profile: ModuleProfile
    window: MetricWindow
    now: datetime
    current_replicas: int | None = None
    strategy: ScaleProposer | None = None
    anomaly: Mapping[str, float] | None = None  # per-field scores and "combined", newest minute
    model_versions: Mapping[str, str] = field(default_factory=dict)
    link_latencies: Sequence[LinkLatency] | None = None
    deployed_at: datetime | None = None  # a recent deploy: judge it against the minutes before
    catalog: Catalog | None = None  # for the rollback scope of a failed deploy
    recent_actions: Sequence[RecentAction] = ()
    current_version: str = ""  # the release running (the image), for the rollback analysis
    last_stable_version: str = ""  # the release it replaced: where a rollback returns
    # the other modules' windows: a failed release that also breaks its neighbours widens
    # the rollback to them (judged like the module itself, at the module's deploy time)
    other_windows: Mapping[str, MetricWindow] = field(default_factory=dict)


def observed_replicas(inputs: DecisionInputs) -> int:
    """The replicas running now: the executor's observation, the window's, or the minimum."""
    if inputs.current_replicas is not None:
        return inputs.current_replicas
    seen = inputs.window.last_replicas()
    return seen if seen is not None else inputs.profile.min_replicas


def _guard(
    raw: int,
    current: int,
    fresh: Freshness,
    since_change_s: float | None,
    since_growth_s: float | None,
    profile: ModuleProfile,
    cfg: PolicyConfig,
) -> tuple[int, list[Evidence]]:
    """``since_growth_s``: since the last change that added or replaced replicas (anything but
    a scale-down), which a scale-down waits on; successive scale-downs are paced by the
    strategy's stabilisation (or the rules' own wait), not by the cooldown."""
    # order matters: bad data holds first, then the cooldown, and the catalog bounds last
    held = hold_on_bad_data(raw, current, fresh, profile)
    cooled = apply_cooldown(
        held.target,
        current,
        since_growth_s if held.target < current else since_change_s,
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


def _judge_release(
    window: MetricWindow, deployed: datetime, config: canary_judge.CanaryConfig
) -> canary_judge.CanaryReport:
    """The window's minutes after ``deployed`` and its warm-up against the minutes before it."""
    split = bisect_left(window.timestamps, deployed)
    start = bisect_left(window.timestamps, deployed + timedelta(seconds=config.warmup_s))
    metrics = ("error_rate", "response_time")
    return canary_judge.judge_canary(
        {m: window.field(m)[:split] for m in metrics},
        {m: window.field(m)[start:] for m in metrics},
        config=config,
    )


def _canary(
    inputs: DecisionInputs, cfg: PolicyConfig
) -> tuple[RollbackDecision | None, list[Evidence]]:
    age = _release_age_s(inputs)
    # judged for as long as the window holds minutes on both sides of the release (the
    # medians keep a later, shorter incident from being blamed on it)
    if inputs.deployed_at is None or inputs.catalog is None or age is None:
        return None, []
    deployed = inputs.now - timedelta(seconds=age)
    report = _judge_release(inputs.window, deployed, cfg.canary)
    evidence = [Evidence(kind="canary", detail=report.summary(), value=report.score)]
    if not report.regression or report.error_type is None:
        return None, evidence
    catalog, name = inputs.catalog, inputs.profile.name
    neighbours = set(catalog.get(name).depends_on) | set(catalog.dependents_of(name))
    judged = sorted(neighbours & set(inputs.other_windows))
    # "some neighbour broke too" must be as strong a claim as the module's own failure: the
    # neighbours are several tests, so each runs at alpha / their number (Bonferroni) and
    # the false alarm rate of widening stays the module's alpha
    strict = replace(cfg.canary, alpha=cfg.canary.alpha / max(len(judged), 1))
    health: dict[str, bool] = {}
    for other in judged:
        theirs = _judge_release(inputs.other_windows[other], deployed, strict)
        if not theirs.nodata:  # a neighbour without data is unknown, not healthy
            health[other] = not theirs.regression
        if theirs.regression or theirs.nodata:
            evidence.append(
                Evidence(
                    kind="canary",
                    detail=f"{other} since the release of {name}: {theirs.summary()}",
                    value=theirs.score,
                )
            )
    _, decision = analyse_rollback(
        catalog,
        name,
        report.error_type,
        current_version=inputs.current_version,
        last_stable_version=inputs.last_stable_version,
        integration_health=health,
        integrations_judged=True,
    )
    scope = Evidence(
        kind="canary",
        detail=f"rollback {decision.scope.value} ({', '.join(decision.modules)}): "
        f"{decision.reason}",
        value=decision.confidence,
    )
    return decision, [*evidence, scope]


def _release_age_s(inputs: DecisionInputs) -> float | None:
    """Seconds since the module's observed release (None: no release known)."""
    if inputs.deployed_at is None:
        return None
    deployed = inputs.deployed_at
    if deployed.tzinfo is None:
        deployed = deployed.replace(tzinfo=UTC)
    return (inputs.now - deployed).total_seconds()


def _hold_restart_for_canary(
    health: HealthAssessment, inputs: DecisionInputs, config: PolicyConfig
) -> HealthAssessment:
    """A restart while a release is younger than the canary's minimum samples is held (an
    alert instead): the symptoms may be the release's, which the canary check rolls back once
    it has its samples, and a restart cures nothing there. On simulated incidents every wrong
    seed-rule restart was one of these (see :mod:`nexus_ml.decide.health`)."""
    age = _release_age_s(inputs)
    if not health.restart or age is None or not 0 <= age < config.canary.ready_after_s:
        return health
    note = (
        f"released {age / 60:.0f} min ago: restart held until the canary check has "
        f"{config.canary.min_samples} minutes of the release after its warm-up"
    )
    return replace(health, restart=False, alert=True, reasons=(*health.reasons, note))


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


def _since_change_s(inputs: DecisionInputs, *, scale_downs: bool = True) -> float | None:
    changed = last_change_at(inputs.window, inputs.recent_actions, scale_downs=scale_downs)
    return None if changed is None else (inputs.now - changed).total_seconds()


def _scale_target(
    inputs: DecisionInputs, current: int, since_change_s: float | None
) -> ScaleTarget:
    """The strategy's target when a champion decides, else the seed's rules."""
    if inputs.strategy is not None:
        return strategy_scaling(inputs.strategy.propose(current))
    since_min = math.inf if since_change_s is None else since_change_s / 60.0
    return rules_scaling(inputs.profile, inputs.window, current, since_min)


@dataclass(frozen=True)
class _Condition:
    """The module's health and load now."""

    health: HealthAssessment
    load: LoadView
    latency: Trend | None


def _condition(
    inputs: DecisionInputs, current: int, since_change_s: float | None, config: PolicyConfig
) -> _Condition:
    window, profile = inputs.window, inputs.profile
    rt, err = window.field("response_time"), window.field("error_rate")
    baseline = response_baseline(rt, recent=max(config.health.sustain_min, 15))
    scores = inputs.anomaly or {}
    used = restarts_in_window(
        restart_times(inputs.recent_actions), inputs.now, config.health.budget_window
    )
    load = assess_load(
        window.field("requests_per_min"),
        current=current,
        capacity_rpm_per_replica=profile.capacity_rpm_per_replica,
        recent=config.health.sustain_min,
    )

    # a window that spans a change of the service is not one set of containers' trend
    def steady(minutes: int) -> bool:
        return since_change_s is None or since_change_s >= 60.0 * minutes

    used_memory = window.field("memory_usage")
    memory = trend_to_limit(used_memory) if steady(FIT_MINUTES) else None
    memory_hour = (
        trend_to_limit(
            used_memory, minutes=WATCH_FIT_MINUTES, load=window.field("requests_per_min")
        )
        if steady(WATCH_FIT_MINUTES)
        else None
    )
    latency = None
    # above its target utilisation a module's response time may rise with the load, which the
    # scaling answers: the response-time trend reads only modules below it
    loaded = load.utilisation is not None and load.utilisation >= profile.target_utilisation
    if steady(FIT_MINUTES) and baseline and not loaded:
        ratio = [v / baseline for v in rt]
        latency = trend_to_limit(ratio, limit=config.health.response_ratio)
    health = assess_health(
        rt,
        err,
        baseline_ms=baseline,
        anomaly_score=scores.get("combined"),
        restarts_used=used,
        utilisation=load.utilisation,
        sustained_score=scores.get("sustained"),
        demand_ratio=load.demand_ratio,
        memory=memory,
        memory_hour=memory_hour,
        latency=latency,
        thresholds=config.health,
    )
    return _Condition(health, load, latency)


def _size_for_overload(
    scaling: ScaleTarget,
    condition: _Condition,
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


@dataclass(frozen=True)
class _SlowLinks:
    """The slow links and the latency they were judged against."""

    links: Sequence[LinkLatency]
    threshold_ms: float


def _slow_links(inputs: DecisionInputs, config: PolicyConfig) -> _SlowLinks:
    """Per-link latencies (when the executor sends them) are judged against the seed's limit;
    the module's own network latency also against its usual level, when it held above that
    for the last minutes."""
    limit = config.slow_link_ms
    if inputs.link_latencies is not None:
        return _SlowLinks(slow_links(inputs.link_latencies, threshold_ms=limit), limit)
    net = inputs.window.field("network_latency")
    sustain = config.health.sustain_min
    usual = response_baseline(net, recent=max(sustain, 15))  # the same "usual" as latency's
    threshold = slow_threshold_ms(usual, limit_ms=limit)
    tail = list(net[-sustain:])
    held = len(tail) == sustain and all(math.isfinite(v) and v > threshold for v in tail)
    if not held:  # only the seed's limit, on the newest minute observed
        threshold = limit
    seen = finite(net)
    links = links_from_network_latency(inputs.profile, seen[-1]) if seen else ()
    return _SlowLinks(slow_links(links, threshold_ms=threshold), threshold)


def _evidence(
    inputs: DecisionInputs,
    scaling: ScaleTarget,
    guard_notes: list[Evidence],
    canary_evidence: list[Evidence],
    fresh: Freshness,
    health: HealthAssessment,
    condition: _Condition,
    slow: _SlowLinks,
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
    since_change_s = _since_change_s(inputs)
    fresh = assess_freshness(
        window.last_observed,
        now,
        list(window.field("requests_per_min")[-5:]),
        max_age_s=config.max_age_s,
    )
    condition = _condition(inputs, current, since_change_s, config)
    health = _hold_restart_for_canary(condition.health, inputs, config)
    scaling = _size_for_overload(
        _scale_target(inputs, current, since_change_s),
        condition,
        current,
        profile,
        usable=fresh.usable,
        since_change_s=since_change_s,
    )
    since_growth_s = _since_change_s(inputs, scale_downs=False)
    target, guard_notes = _guard(
        scaling.target, current, fresh, since_change_s, since_growth_s, profile, config
    )
    slow = _slow_links(inputs, config)
    slowed = bool(slow.links)
    rollback, canary_evidence = _canary(inputs, config)
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
