"""The release check inside a decision: a recent release judged against the minutes before it.

A release younger than the window is judged by the canary test (:mod:`nexus_ml.decide.canary`);
a regression is rolled back over the smallest safe scope (:func:`~nexus_ml.decide.rollback.
analyse_rollback`), widened to the neighbours its release broke too. While the release is too
young to judge, a restart is held (its symptoms may be the release's).
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from nexus_ml.decide import canary as canary_judge
from nexus_ml.decide.health import HealthAssessment
from nexus_ml.decide.inputs import DecisionInputs, PolicyConfig
from nexus_ml.decide.rollback import analyse_rollback
from nexus_ml.decide.window import MetricWindow
from nexus_ml.domain import Evidence, RollbackDecision


def judge_release(
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


def check_release(
    inputs: DecisionInputs, cfg: PolicyConfig
) -> tuple[RollbackDecision | None, list[Evidence]]:
    """The rollback a failed recent release calls for (None: no release, or no regression),
    and the canary evidence behind it."""
    deployed = _deployed(inputs)
    # judged for as long as the window holds minutes on both sides of the release (the
    # medians keep a later, shorter incident from being blamed on it)
    if deployed is None or inputs.catalog is None:
        return None, []
    report = judge_release(inputs.window, deployed, cfg.canary)
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
        theirs = judge_release(inputs.other_windows[other], deployed, strict)
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


def _deployed(inputs: DecisionInputs) -> datetime | None:
    """When the module's observed release was deployed, aware (naive = UTC; None: unknown)."""
    deployed = inputs.deployed_at
    if deployed is not None and deployed.tzinfo is None:
        deployed = deployed.replace(tzinfo=UTC)
    return deployed


def release_age_s(inputs: DecisionInputs) -> float | None:
    """Seconds since the module's observed release (None: no release known)."""
    deployed = _deployed(inputs)
    return None if deployed is None else (inputs.now - deployed).total_seconds()


def hold_restart_for_canary(
    health: HealthAssessment, inputs: DecisionInputs, config: PolicyConfig
) -> HealthAssessment:
    """A restart while a release is younger than the canary's minimum samples is held (an
    alert instead): the symptoms may be the release's, which the canary check rolls back once
    it has its samples, and a restart cures nothing there. On simulated incidents every wrong
    seed-rule restart was one of these (see :mod:`nexus_ml.decide.health`)."""
    age = release_age_s(inputs)
    if not health.restart or age is None or not 0 <= age < config.canary.ready_after_s:
        return health
    note = (
        f"released {age / 60:.0f} min ago: restart held until the canary check has "
        f"{config.canary.min_samples} minutes of the release after its warm-up"
    )
    return replace(health, restart=False, alert=True, reasons=(*health.reasons, note))
