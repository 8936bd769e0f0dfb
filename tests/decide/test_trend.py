"""The memory trend: a leak's line toward the limit alerts within the hour and restarts before
an operator could act; a slower one, seen over the hour, alerts hours ahead; noise, a flat
plateau, a reset and load do not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nexus_ml.decide.health import assess_health
from nexus_ml.decide.trend import FIT_MINUTES, WATCH_FIT_MINUTES, trend_to_limit

RT, ERR = [200.0] * 60, [0.01] * 60


def leak(start: float, per_minute: float, n: int = 60, seed: int = 0) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(start + per_minute * np.arange(n) + rng.normal(0, 0.01, n))


def test_a_steady_rise_is_projected_to_the_limit() -> None:
    trend = trend_to_limit(leak(0.40, 0.005))  # 0.695 at the newest minute, +0.3 an hour
    assert trend is not None
    assert abs(trend.slope - 0.005) < 0.001
    assert abs(trend.level - 0.695) < 0.02
    assert abs(trend.minutes_to_limit - (1 - 0.695) / 0.005) < 8


def test_noise_and_a_plateau_are_not_rising() -> None:
    flat = trend_to_limit(leak(0.40, 0.0, seed=3))
    assert flat is not None and math.isinf(flat.minutes_to_limit)
    falling = trend_to_limit(leak(0.60, -0.002))
    assert falling is not None and math.isinf(falling.minutes_to_limit)


def test_too_few_observations_give_no_trend() -> None:
    assert trend_to_limit([0.5] * (FIT_MINUTES - 7)) is None  # 23 of 30 minutes
    # a window a minute short (its newest minute not settled yet) is still a line
    short = trend_to_limit(leak(0.40, 0.005)[:-1], minutes=WATCH_FIT_MINUTES)
    assert short is not None and abs(short.level - 0.69) < 0.02
    gappy = leak(0.4, 0.005)
    gappy[-FIT_MINUTES : -FIT_MINUTES + 8] = [math.nan] * 8  # 22 of 30 minutes: too few
    assert trend_to_limit(gappy) is None


def test_a_fall_back_within_the_fit_stops_the_projection() -> None:
    # a leak the OOM killer (or a restart) ended 3 minutes ago: memory is back at its level
    freed = [*leak(0.40, 0.006)[:57], 0.40, 0.41, 0.40]
    for minutes in (FIT_MINUTES, WATCH_FIT_MINUTES):
        trend = trend_to_limit(freed, minutes=minutes)
        assert trend is not None and math.isinf(trend.minutes_to_limit), minutes
    # the same climb without the fall is projected
    kept = trend_to_limit(leak(0.40, 0.006), minutes=WATCH_FIT_MINUTES)
    assert kept is not None and math.isfinite(kept.minutes_to_limit)


def test_a_climb_the_load_explains_is_not_a_trend_toward_the_limit() -> None:
    rng = np.random.default_rng(4)
    ramp = np.linspace(100.0, 600.0, 60) * rng.lognormal(0, 0.05, 60)  # a morning's demand
    follows = list(0.30 + 0.0004 * ramp + rng.normal(0, 0.01, 60))  # memory held by requests
    plain = trend_to_limit(follows, minutes=WATCH_FIT_MINUTES)
    assert plain is not None and plain.minutes_to_limit < 240  # the line alone would alert
    loaded = trend_to_limit(follows, minutes=WATCH_FIT_MINUTES, load=list(ramp))
    assert loaded is not None and math.isinf(loaded.minutes_to_limit)
    # a leak under a steady but noisy load keeps its slope
    steady = 300.0 * rng.lognormal(0, 0.1, 60)
    leaking = [m + 0.0002 * d for m, d in zip(leak(0.30, 0.003, seed=5), steady, strict=True)]
    trend = trend_to_limit(leaking, minutes=WATCH_FIT_MINUTES, load=list(steady))
    assert trend is not None and abs(trend.slope - 0.003) < 0.0005
    # no load for some minutes: the plain line
    gaps = [math.nan, *steady[1:]]
    assert trend_to_limit(follows, minutes=WATCH_FIT_MINUTES, load=gaps) == plain


def test_a_slow_leak_alerts_hours_ahead_and_never_restarts() -> None:
    def health(memory: list[float], **kw):  # type: ignore[no-untyped-def]
        return assess_health(
            RT, ERR, baseline_ms=200.0, anomaly_score=None, restarts_used=0,
            memory=trend_to_limit(memory),
            memory_hour=trend_to_limit(memory, minutes=WATCH_FIT_MINUTES), **kw,
        )  # fmt: skip

    slow = health(leak(0.30, 0.003))  # 0.48 now, +18 % an hour: the limit in ~3 h
    assert slow.alert and not slow.restart
    assert slow.memory is not None and "(memory trend over the hour)" in slow.memory
    assert slow.memory_left_min is not None and 150 < slow.memory_left_min < 200
    slower = health(leak(0.20, 0.001))  # +6 % an hour: the limit in over 12 h
    assert not slower.alert and slower.memory is None
    busy = health(leak(0.30, 0.003), utilisation=1.1)  # saturated: the load may fill it
    assert not busy.alert and busy.memory is None
    soon = health(leak(0.45, 0.005))  # within the hour: the 30-minute line answers first
    assert soon.memory is not None and "(memory trend)" in soon.memory
    assert soon.memory_left_min is not None and soon.memory_left_min < 60


def test_a_leak_alerts_within_the_hour_and_restarts_before_an_operator_could_act() -> None:
    far = assess_health(RT, ERR, baseline_ms=200.0, anomaly_score=None, restarts_used=0,
                        memory=trend_to_limit(leak(0.20, 0.005)))  # fmt: skip
    assert not far.restart and not far.alert and far.memory is None  # ~100 min away
    soon = assess_health(RT, ERR, baseline_ms=200.0, anomaly_score=None, restarts_used=0,
                         memory=trend_to_limit(leak(0.45, 0.005)))  # fmt: skip
    assert soon.alert and not soon.restart  # ~50 min away: an operator has time
    assert soon.memory is not None and "(memory trend)" in soon.memory
    now = assess_health(RT, ERR, baseline_ms=200.0, anomaly_score=None, restarts_used=0,
                        memory=trend_to_limit(leak(0.65, 0.005)))  # fmt: skip
    assert now.restart and not now.alert  # ~11 min away: before anyone could act
    assert now.memory is not None and "restart before it is killed" in now.memory
    spent = assess_health(RT, ERR, baseline_ms=200.0, anomaly_score=None, restarts_used=3,
                          memory=trend_to_limit(leak(0.65, 0.005)))  # fmt: skip
    assert not spent.restart and spent.alert  # the restart budget still holds


def test_memory_filling_under_saturating_load_alerts_but_does_not_restart() -> None:
    busy = assess_health(RT, ERR, baseline_ms=200.0, anomaly_score=None, restarts_used=0,
                         utilisation=1.1, memory=trend_to_limit(leak(0.65, 0.005)))  # fmt: skip
    assert not busy.restart and busy.alert


def test_the_policy_restarts_a_leak_and_says_why_unless_the_window_spans_a_change() -> None:
    from datetime import timedelta

    from nexus_ml.catalog import load_catalog
    from nexus_ml.decide.observed import RecentAction
    from nexus_ml.decide.policy import DecisionInputs, decide
    from nexus_ml.domain import Action
    from tests.decide.windows import NOW, make_window

    catalog = load_catalog()
    um = catalog.get("nexus-user-management")
    window = make_window(memory_usage=leak(0.65, 0.005))

    def decision(**kw):  # type: ignore[no-untyped-def]
        return decide(DecisionInputs(profile=um, window=window, now=NOW, catalog=catalog, **kw))

    d = decision()
    assert d.action is Action.RESTART and d.restart and d.confidence == 0.86
    trend = [e for e in d.explanation if e.kind == "memory_trend"]
    assert len(trend) == 1 and 5 < (trend[0].value or 0) < 20  # minutes to the limit
    assert "(memory trend)" in d.reason
    # restarted 20 minutes ago: the window mixes the old containers and the new ones
    recent = (RecentAction(Action.RESTART, NOW - timedelta(minutes=20)),)
    after = decision(recent_actions=recent)
    assert after.action is not Action.RESTART
    assert not any(e.kind == "memory_trend" for e in after.explanation)


def test_the_policy_alerts_a_slow_leak_but_not_memory_that_follows_the_load() -> None:
    from nexus_ml.catalog import load_catalog
    from nexus_ml.decide.policy import DecisionInputs, decide
    from nexus_ml.domain import Action
    from tests.decide.windows import NOW, make_window

    catalog = load_catalog()
    um = catalog.get("nexus-user-management")

    def decision(**fields):  # type: ignore[no-untyped-def]
        window = make_window(**fields)
        return decide(DecisionInputs(profile=um, window=window, now=NOW, catalog=catalog))

    slow = decision(memory_usage=leak(0.30, 0.003))
    assert slow.action is Action.ALERT and not slow.restart
    # the served window is a minute short for the first seconds of each minute (settling)
    short = decision(n=59, memory_usage=leak(0.30, 0.003)[:59])
    assert any(e.kind == "memory_watch" for e in short.explanation)
    # hours ahead: the watch's own kind, not the within-the-hour trend's
    assert not any(e.kind == "memory_trend" for e in slow.explanation)
    trend = [e for e in slow.explanation if e.kind == "memory_watch"]
    assert len(trend) == 1 and 150 < (trend[0].value or 0) < 200  # minutes to the limit
    assert "(memory trend over the hour)" in slow.reason
    # what decided the alert leads its reason, not why the replica count holds (rules mode)
    assert slow.reason.startswith("memory at ") and "no trigger" in slow.reason
    rng = np.random.default_rng(4)
    ramp = np.linspace(100.0, 300.0, 60) * rng.lognormal(0, 0.05, 60)
    follows = list(0.30 + 0.0008 * ramp + rng.normal(0, 0.01, 60))
    busy = decision(memory_usage=follows, requests_per_min=list(ramp))
    assert not any(e.kind in ("memory_trend", "memory_watch") for e in busy.explanation)


def creep(start: float, per_minute: float, n: int = 60, seed: int = 1) -> list[float]:
    """Response times (ms) over a 200 ms baseline: flat for the first half, then creeping."""
    rng = np.random.default_rng(seed)
    ratio = np.r_[np.ones(n // 2), start + per_minute * np.arange(n - n // 2)]
    return list(200.0 * ratio * rng.lognormal(0, 0.03, n))


def test_response_time_creeping_toward_the_seed_rules_bar_alerts_before_it_fires() -> None:
    def health(rt: list[float], **kw):  # type: ignore[no-untyped-def]
        ratio = [v / 200.0 for v in rt]
        return assess_health(rt, ERR, baseline_ms=200.0, anomaly_score=None, restarts_used=0,
                             latency=trend_to_limit(ratio, limit=3.0), **kw)  # fmt: skip

    rising = health(creep(1.5, 0.04))  # 2.7x now, +2.4x an hour: 3x within minutes
    assert rising.alert and not rising.restart
    assert rising.latency is not None and "(response-time trend)" in rising.latency
    slow = health(creep(1.2, 0.01))  # 1.5x now, +0.6x an hour: 3x in over two hours
    assert not slow.alert and slow.latency is None
    busy = health(creep(1.5, 0.04), utilisation=1.2)  # saturated: load, scaled not alerted
    assert not busy.alert and busy.latency is None


def test_the_line_with_load_is_the_least_squares_fit() -> None:
    rng = np.random.default_rng(9)
    load = 300.0 * rng.lognormal(0, 0.2, 60)
    memory = 0.3 + 0.004 * np.arange(60) + 0.0003 * load + rng.normal(0, 0.01, 60)
    trend = trend_to_limit(list(memory), minutes=WATCH_FIT_MINUTES, load=list(load))
    design = np.column_stack([np.ones(60), np.arange(60.0), load])
    coef, rss, *_ = np.linalg.lstsq(design, memory, rcond=None)
    se = math.sqrt(rss[0] / 57 * np.linalg.inv(design.T @ design)[1, 1])
    assert trend is not None
    assert trend.slope == pytest.approx(coef[1], rel=1e-9)
    assert trend.level == pytest.approx(design[-1] @ coef, rel=1e-9)
    assert trend.minutes_to_limit == pytest.approx((1 - design[-1] @ coef) / coef[1], rel=1e-9)
    assert coef[1] > 2 * se  # rising by the same test
