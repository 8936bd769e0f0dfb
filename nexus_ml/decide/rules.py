"""The seed's reactive triggers: the policy when no champion model is loaded (pure, no I/O).

Scale up by one replica when the module's trigger metric stays above its threshold for the
catalog's duration; scale down by one when it stays below half the threshold for twice as
long. Both wait for the same time since the last change. These are the ``seed_rule`` of the
replay benchmark.

Confidence is measured, not assumed: it is how often the rule is right when it fires, on
simulated incidents (``bench/bench_rule_precision.py``; method in
``nexus_ml/evaluate/rule_precision.py``). On the design seed (180 histories of 7 h, six incident
kinds in equal numbers, the policy in rules mode every minute):

- scale-up: 1,747 right of 19,854 firings (8.8 %; Wilson 95 % lower end 0.084) — right when the
  demand of the next 15 minutes exceeds the running replicas at their target utilisation. Low,
  but above the executor's scale-up bar (the strategy's break-even 1/20 = 0.05): an extra
  replica is cheap next to a short minute, so the rule still acts.
- scale-down: 159 right of 170 firings (93.5 %; lower end 0.888) — right when one replica
  fewer still carries the next 30 minutes. Above the 0.7 bar: a right scale-down acts.

Each confidence is the lower end, rounded down; ``tests/decide/test_rule_precision.py`` checks
it against a held-out seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nexus_ml.catalog import ModuleProfile

#: Measured precision of the seed's scale-up trigger (lower 95 % end, see the module doc).
RULES_SCALE_UP_CONFIDENCE = 0.08
#: Measured precision of the seed's scale-down rule (lower 95 % end, see the module doc).
RULES_SCALE_DOWN_CONFIDENCE = 0.88


@dataclass(frozen=True)
class RulesRecommendation:
    target: int
    reasons: tuple[str, ...]
    confidence: float


def sustained(
    values: Sequence[float], predicate_threshold: float, minutes: int, *, above: bool
) -> bool:
    """True when each of the last ``minutes`` values is above (or below) the threshold.

    Missing values break the run: the rule never fires on data it did not see.
    """
    if minutes <= 0 or len(values) < minutes:
        return False
    tail = values[-minutes:]
    if above:
        return all(math.isfinite(v) and v > predicate_threshold for v in tail)
    return all(math.isfinite(v) and v < predicate_threshold for v in tail)


def rules_recommendation(
    profile: ModuleProfile,
    trigger_values: Sequence[float],
    current: int,
    minutes_since_change: float,
) -> RulesRecommendation:
    """The seed's trigger applied to the module's trigger metric (oldest first)."""
    trigger = profile.scale_trigger
    up_minutes, down_minutes = trigger.duration_min, 2 * trigger.duration_min
    rule = f"{trigger.metric} > {trigger.threshold:g} for {up_minutes} min"
    if sustained(trigger_values, trigger.threshold, up_minutes, above=True):
        if minutes_since_change >= up_minutes:
            return RulesRecommendation(current + 1, (f"trigger {rule}",), RULES_SCALE_UP_CONFIDENCE)
        return RulesRecommendation(
            current, (f"trigger {rule} but changed {minutes_since_change:.0f} min ago",), 0.5
        )
    low = trigger.threshold / 2
    if (
        sustained(trigger_values, low, down_minutes, above=False)
        and minutes_since_change >= down_minutes
    ):
        return RulesRecommendation(
            current - 1,
            (f"{trigger.metric} < {low:g} for {down_minutes} min",),
            RULES_SCALE_DOWN_CONFIDENCE,
        )
    return RulesRecommendation(current, (f"no trigger ({rule})",), 0.5)
