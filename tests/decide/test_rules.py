from __future__ import annotations

from nexus_ml.catalog import load_catalog
from nexus_ml.decide.rules import (
    RULES_SCALE_DOWN_CONFIDENCE,
    RULES_SCALE_UP_CONFIDENCE,
    rules_recommendation,
    sustained,
)
from tests.decide.windows import NAN

CATALOG = load_catalog()
UM = CATALOG.get("nexus-user-management")  # cpu_usage > 0.70 for 5 min


def test_sustained_needs_every_minute_and_treats_nan_as_a_break() -> None:
    assert sustained([0.8] * 5, 0.7, 5, above=True)
    assert not sustained([0.8] * 4, 0.7, 5, above=True)
    assert not sustained([0.8, 0.8, NAN, 0.8, 0.8], 0.7, 5, above=True)


def test_trigger_adds_one_replica_after_its_duration() -> None:
    rec = rules_recommendation(UM, [0.3] * 10 + [0.8] * 5, 3, minutes_since_change=60)
    assert rec.target == 4 and rec.confidence == RULES_SCALE_UP_CONFIDENCE
    assert rules_recommendation(UM, [0.3] * 11 + [0.8] * 4, 3, 60).target == 3


def test_trigger_waits_after_a_change_and_scales_down_slowly() -> None:
    assert rules_recommendation(UM, [0.8] * 10, 3, minutes_since_change=2).target == 3
    assert rules_recommendation(UM, [0.2] * 10, 3, minutes_since_change=60).target == 2
    assert rules_recommendation(UM, [0.2] * 9, 3, minutes_since_change=60).target == 3


def test_rules_confidences_are_the_measured_ones() -> None:
    # bench/bench_rule_precision.py (design seed): lower 95 % ends 0.084 and 0.888
    assert RULES_SCALE_UP_CONFIDENCE == 0.08 and RULES_SCALE_DOWN_CONFIDENCE == 0.88
    down = rules_recommendation(UM, [0.2] * 10, 3, minutes_since_change=60)
    assert down.target == 2 and down.confidence == RULES_SCALE_DOWN_CONFIDENCE
