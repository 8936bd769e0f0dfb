from __future__ import annotations

from datetime import timedelta

from nexus_ml.catalog import load_catalog
from nexus_ml.decide.guards import (
    apply_cooldown,
    assess_freshness,
    clamp_to_profile,
    hold_on_bad_data,
)
from tests.decide.windows import NAN, NOW

PROFILE = load_catalog().get("nexus-user-management")  # min 2, max 8


def test_fresh_complete_data_is_usable() -> None:
    f = assess_freshness(NOW - timedelta(seconds=30), NOW, [1.0, 2.0, 3.0], max_age_s=180)
    assert f.usable and f.age_s == 30


def test_old_or_absent_timestamp_is_stale() -> None:
    assert assess_freshness(NOW - timedelta(minutes=10), NOW, [1.0], max_age_s=180).stale
    assert assess_freshness(None, NOW, [], max_age_s=180).stale


def test_mostly_nan_or_nan_newest_value_is_missing() -> None:
    assert assess_freshness(NOW, NOW, [NAN, NAN, 1.0], max_age_s=180).missing
    assert assess_freshness(NOW, NOW, [1.0, 2.0, NAN], max_age_s=180).missing


def test_bad_data_never_scales_down_and_says_so() -> None:
    stale = assess_freshness(NOW - timedelta(hours=1), NOW, [1.0], max_age_s=180)
    held = hold_on_bad_data(2, 5, stale, PROFILE)
    assert held.target == 5 and held.note and "stale" in held.note


def test_bad_data_still_returns_into_catalog_bounds() -> None:
    missing = assess_freshness(NOW, NOW, [NAN], max_age_s=180)
    assert hold_on_bad_data(1, 1, missing, PROFILE).target == PROFILE.min_replicas


def test_cooldown_delays_scale_down_not_scale_up() -> None:
    down = apply_cooldown(3, 5, 60, scale_down_cooldown_s=300)
    assert down.target == 5 and down.note and "240 s" in down.note
    assert apply_cooldown(7, 5, 60, scale_down_cooldown_s=300).target == 7
    assert apply_cooldown(3, 5, 301, scale_down_cooldown_s=300).target == 3
    assert apply_cooldown(3, 5, None, scale_down_cooldown_s=300).target == 3


def test_clamp_names_the_bound() -> None:
    high = clamp_to_profile(20, PROFILE)
    assert high.target == 8 and high.note and "max 8" in high.note
    assert clamp_to_profile(0, PROFILE).target == 2
    assert clamp_to_profile(4, PROFILE).note is None
