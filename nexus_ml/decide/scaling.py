"""Predictive scaling: how many replicas the next minutes need (pure, no I/O).

Demand is in requests per minute; one replica serves ``capacity`` requests per minute at 100 %
utilisation. The recommendation covers an upper forecast quantile over the start-up lead time
at the target utilisation, scales up early and fast, and scales down late and slowly.

This first version is deliberately simple; the replay benchmark (issue 8) is its yardstick.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScalingInputs:
    current_replicas: int
    capacity: float  # requests/min one replica serves at 100 % utilisation
    target_utilisation: float
    min_replicas: int
    max_replicas: int
    recent_demand: Sequence[float]  # observed demand, oldest first, last = most recent minute
    forecast_upper: Sequence[float] = ()  # upper quantile of demand over the next lead-time steps
    forecast_mean: Sequence[float] = ()
    exceed_probability: float | None = None  # P(demand > current capacity within lead time)


@dataclass(frozen=True)
class ScalingState:
    """What the policy remembers between calls (kept by the caller, not here)."""

    recent_targets: tuple[int, ...] = ()  # raw recommendations of the last minutes, oldest first
    minutes_since_change: int = 10_000


@dataclass(frozen=True)
class ScalingRecommendation:
    target: int
    raw_target: int
    confidence: float
    reasons: tuple[str, ...] = field(default_factory=tuple)
    state: ScalingState = field(default_factory=ScalingState)


def replicas_for(demand: float, capacity: float, target_utilisation: float) -> int:
    """Replicas that serve ``demand`` at ``target_utilisation``."""
    if demand <= 0:
        return 0
    return math.ceil(demand / (capacity * target_utilisation) - 1e-9)


def recommend_replicas(
    inputs: ScalingInputs,
    state: ScalingState,
    *,
    scale_down_window: int = 10,
) -> ScalingRecommendation:
    """The replica target for now, and the state to pass next time."""
    reasons: list[str] = []
    observed = inputs.recent_demand[-1] if inputs.recent_demand else 0.0
    need_now = replicas_for(observed, inputs.capacity, inputs.target_utilisation)
    need_ahead = (
        replicas_for(max(inputs.forecast_upper), inputs.capacity, inputs.target_utilisation)
        if inputs.forecast_upper
        else need_now
    )
    raw = max(need_now, need_ahead)
    if need_ahead > need_now:
        reasons.append(f"forecast needs {need_ahead} replicas within the lead time")
    history = (*state.recent_targets, raw)[-scale_down_window:]
    target = raw
    if raw < inputs.current_replicas:
        target = max(history)  # scale down only to the max of the last minutes' needs
        if target > raw:
            reasons.append(f"scale-down stabilised over {scale_down_window} min")
    clamped = max(inputs.min_replicas, min(inputs.max_replicas, target))
    if clamped != target:
        reasons.append(f"clamped to [{inputs.min_replicas}, {inputs.max_replicas}]")
    changed = clamped != inputs.current_replicas
    next_state = ScalingState(
        recent_targets=history,
        minutes_since_change=0 if changed else state.minutes_since_change + 1,
    )
    confidence = inputs.exceed_probability if inputs.exceed_probability is not None else 0.5
    return ScalingRecommendation(clamped, raw, confidence, tuple(reasons), next_state)
