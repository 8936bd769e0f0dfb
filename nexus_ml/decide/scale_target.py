"""The replica target of a decision, with its confidence and evidence (pure, no I/O).

From the forecast when a champion decides (:func:`model_scaling`: the scaling function on the
forecast's upper bound, confidence read from the forecast distribution), else from the seed's
rules (:func:`rules_scaling`). :mod:`nexus_ml.decide.policy` weighs it against the other rules.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nexus_ml.decide.confidence import exceed_probability
from nexus_ml.decide.rules import rules_recommendation
from nexus_ml.decide.scaling import ScalingInputs, ScalingState, recommend_replicas
from nexus_ml.domain import Evidence

if TYPE_CHECKING:
    from nexus_ml.decide.policy import DecisionInputs, ForecastView, PolicyConfig


@dataclass(frozen=True)
class ScaleTarget:
    """A replica target with its confidence, the evidence behind it and the scaling memory."""

    target: int
    confidence: float
    evidence: tuple[Evidence, ...]
    state: ScalingState


def finite(values: Sequence[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def model_scaling(
    inputs: DecisionInputs,
    forecast: ForecastView,
    current: int,
    state: ScalingState,
    cfg: PolicyConfig,
) -> ScaleTarget:
    p = inputs.profile
    capacity = current * p.capacity_rpm_per_replica * p.target_utilisation
    p_exceed = exceed_probability(
        forecast.mean, forecast.lo, forecast.hi, capacity, level=forecast.level
    )
    demand = inputs.window.field("requests_per_min")[-cfg.demand_minutes :]
    rec = recommend_replicas(
        ScalingInputs(
            current_replicas=current,
            capacity=p.capacity_rpm_per_replica,
            target_utilisation=p.target_utilisation,
            min_replicas=p.min_replicas,
            max_replicas=p.max_replicas,
            recent_demand=finite(demand),
            forecast_upper=forecast.hi,
            forecast_mean=forecast.mean,
            exceed_probability=p_exceed,
        ),
        state,
    )
    evidence: list[Evidence] = []
    if forecast.mean:
        i = max(range(len(forecast.hi)), key=lambda k: forecast.hi[k])
        evidence.append(
            Evidence(
                kind="forecast_peak",
                detail=(
                    f"demand peak {forecast.mean[i]:.0f} rpm (hi-{forecast.level:g} "
                    f"{forecast.hi[i]:.0f}) at {forecast.timestamps[i].isoformat()}"
                ),
                value=forecast.mean[i],
            )
        )
    evidence.append(
        Evidence(
            kind="exceed_probability",
            detail=(
                f"P(demand > {capacity:.0f} rpm, the capacity of {current} replicas) "
                "within the lead time"
            ),
            value=round(p_exceed, 4),
        )
    )
    evidence.extend(Evidence(kind="scaling", detail=r) for r in rec.reasons)
    if rec.target != rec.raw_target:  # stabilisation or the catalog bounds held it back
        evidence.append(
            Evidence(
                kind="guard",
                detail=f"raw recommendation {rec.raw_target} limited to {rec.target}",
                value=float(rec.raw_target),
            )
        )
    if rec.target > current:
        # demand already over capacity now is evidence the forecast may lag (a surge it has
        # not seen): the share of recent minutes over capacity bounds the probability below
        observed = finite(demand)[-5:]
        over_now = sum(v > capacity for v in observed) / len(observed) if observed else 0.0
        confidence = max(p_exceed, over_now)
        if over_now > p_exceed:
            evidence.append(
                Evidence(
                    kind="observed_overload",
                    detail=(
                        f"{over_now:.0%} of the last {len(observed)} min above {capacity:.0f} rpm"
                    ),
                    value=round(over_now, 4),
                )
            )
    elif rec.target < current:
        new_capacity = rec.target * p.capacity_rpm_per_replica * p.target_utilisation
        confidence = 1.0 - exceed_probability(
            forecast.mean, forecast.lo, forecast.hi, new_capacity, level=forecast.level
        )
    else:
        confidence = 1.0 - p_exceed  # P(the current capacity suffices); low when pinned at max
    return ScaleTarget(rec.target, confidence, tuple(evidence), rec.state)


def rules_scaling(
    inputs: DecisionInputs, current: int, since_change_min: float, state: ScalingState
) -> ScaleTarget:
    trigger = inputs.window.field(inputs.profile.scale_trigger.metric)
    rec = rules_recommendation(inputs.profile, trigger, current, since_change_min)
    evidence = tuple(Evidence(kind="rule", detail=r) for r in rec.reasons)
    return ScaleTarget(rec.target, rec.confidence, evidence, state)
