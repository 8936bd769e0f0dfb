"""The pure policy: one decision from its inputs, with the real scaling strategy."""

from __future__ import annotations

import math
from datetime import timedelta

import numpy as np
import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.decide.observed import RecentAction
from nexus_ml.decide.policy import DecisionInputs, decide
from nexus_ml.decide.strategy import SCALE_DOWN_WINDOW
from nexus_ml.domain import Action, Decision, RollbackScope
from tests.decide.windows import NAN, NOW, make_window, strategy_at

CATALOG = load_catalog()
UM = CATALOG.get("nexus-user-management")
PER_REPLICA = UM.capacity_rpm_per_replica * UM.target_utilisation


def inputs(window=None, **kw):  # type: ignore[no-untyped-def]
    return DecisionInputs(
        profile=kw.pop("profile", UM),
        window=window or make_window(),
        now=kw.pop("now", NOW),
        catalog=CATALOG,
        **kw,
    )


def test_demand_above_capacity_scales_up_with_the_strategys_probability() -> None:
    level = 2.6 * PER_REPLICA
    strategy = strategy_at(level, UM)
    d = decide(inputs(make_window(requests_per_min=level), strategy=strategy, current_replicas=2))
    assert d.action is Action.SCALE_UP and d.scale_up and d.policy == "model"
    assert d.target_replicas >= 3
    exceed = next(e for e in d.explanation if e.kind == "exceed_probability")
    assert d.confidence == pytest.approx(exceed.value, abs=1e-4)  # calibrator not fitted yet
    assert d.confidence > 0.9
    kinds = {e.kind for e in d.explanation}
    assert {"forecast_peak", "exceed_probability", "freshness", "scaling"} <= kinds
    assert "least expected cost" in d.reason
    assert d.decided_at == NOW


def test_demand_the_model_did_not_expect_still_gets_the_replicas_it_needs_now() -> None:
    strategy = strategy_at(0.5 * PER_REPLICA, UM)  # the model expects quiet
    observed = 2.4 * PER_REPLICA
    strategy.observe([observed])  # the engine folds the newest minute in before deciding
    d = decide(
        inputs(make_window(requests_per_min=observed), strategy=strategy, current_replicas=2)
    )
    assert d.action is Action.SCALE_UP and d.target_replicas >= 3  # ceil(2.4)


def test_missing_data_never_scales_down() -> None:
    window = make_window(requests_per_min=[100.0] * 55 + [NAN] * 5)
    d = decide(inputs(window, strategy=strategy_at(100.0, UM), current_replicas=5))
    assert d.target_replicas == 5 and d.action is Action.HOLD and d.stale_input
    assert any(e.kind == "guard" and "missing" in e.detail for e in d.explanation)


def test_stale_data_never_scales_down() -> None:
    window = make_window(requests_per_min=100.0, end=NOW - timedelta(minutes=20))
    d = decide(inputs(window, strategy=strategy_at(100.0, UM), current_replicas=5))
    assert d.target_replicas == 5 and d.stale_input and d.confidence <= 0.5


def test_never_beyond_the_catalog_max() -> None:
    strategy = strategy_at(1e6, UM)
    d = decide(inputs(make_window(requests_per_min=9e5), strategy=strategy, current_replicas=4))
    assert d.target_replicas == UM.max_replicas


def test_scale_down_waits_for_the_cooldown_and_the_stabilisation_then_comes_down() -> None:
    """Replicas follow the targets; the executor reports each change as a recent action."""
    strategy = strategy_at(500.0, UM, noise=0.02)
    replicas, changes, actions = 2, [], []
    for minute in range(90):
        demand = 4000.0 if minute < 10 else 500.0
        now = NOW + timedelta(minutes=minute)
        strategy.observe([demand])
        d = decide(
            DecisionInputs(
                profile=UM,
                window=make_window(requests_per_min=demand, end=now),
                now=now,
                strategy=strategy,
                current_replicas=replicas,
                recent_actions=tuple(actions),
            )
        )
        if d.target_replicas != replicas:
            changes.append((minute, d.target_replicas))
            actions.append(RecentAction(d.action, now))
        replicas = d.target_replicas
    peak = math.ceil(4000.0 / PER_REPLICA)
    assert changes[0] == (0, peak)  # up at once
    first_down = next(minute for minute, target in changes if target < peak)
    assert first_down >= 10 + SCALE_DOWN_WINDOW - 1  # five minutes of the dip agree first
    assert replicas == UM.min_replicas  # but it does come down in the end


def test_scale_down_confidence_is_the_probability_that_the_smaller_capacity_holds() -> None:
    strategy = strategy_at(500.0, UM)
    d = decide(
        inputs(
            make_window(requests_per_min=500.0),
            strategy=strategy,
            current_replicas=4,
            recent_actions=(RecentAction(Action.SCALE_UP, NOW - timedelta(hours=1)),),
        )
    )
    assert d.action is Action.SCALE_DOWN and d.target_replicas < 4
    held = strategy.risk.window_risk(np.asarray([d.target_replicas * PER_REPLICA]))[0]
    assert d.confidence == pytest.approx(1 - held, abs=1e-4)


def test_without_a_strategy_the_seed_rules_decide_with_lower_confidence() -> None:
    window = make_window(cpu_usage=[0.4] * 55 + [0.85] * 5)
    d = decide(inputs(window, current_replicas=3))
    assert d.policy == "rules" and d.action is Action.SCALE_UP and d.target_replicas == 4
    assert d.confidence <= 0.6 and d.model_versions == {}


DEGRADED = {
    "response_time": [100.0] * 57 + [500.0] * 3,
    "error_rate": [0.01] * 57 + [0.09] * 3,
}


def test_degradation_confirmed_by_anomaly_restarts() -> None:
    i = inputs(
        make_window(**DEGRADED),
        anomaly={"combined": 0.9, "response_time": 0.95},
        current_replicas=2,
    )
    d = decide(i)
    assert d.action is Action.RESTART and d.restart
    assert decide(i) == d  # pure: the same inputs, the same decision
    assert any(e.kind == "anomaly" for e in d.explanation)


def test_restart_budget_comes_from_the_restarts_the_executor_applied() -> None:
    used = tuple(RecentAction(Action.RESTART, NOW - timedelta(minutes=m)) for m in (5, 15, 25))
    d = decide(
        inputs(
            make_window(**DEGRADED),
            anomaly={"combined": 0.9, "response_time": 0.95},
            current_replicas=2,
            recent_actions=used,
        )
    )
    assert d.action is not Action.RESTART
    assert "restart budget" in d.reason


def test_a_skipped_scale_up_is_decided_again_on_the_next_pass() -> None:
    level = 2.6 * PER_REPLICA
    strategy = strategy_at(level, UM)
    first = decide(inputs(make_window(requests_per_min=level), strategy=strategy))
    assert first.action is Action.SCALE_UP and first.current_replicas == UM.min_replicas
    later = NOW + timedelta(minutes=1)
    strategy.observe([level])
    # the executor skipped it: the cluster still runs the minimum, and says so
    again = decide(
        inputs(
            make_window(requests_per_min=level, end=later),
            strategy=strategy,
            now=later,
            current_replicas=UM.min_replicas,
        )
    )
    assert again.action is Action.SCALE_UP and again.current_replicas == UM.min_replicas


def test_current_replicas_come_from_the_window_when_the_executor_says_nothing() -> None:
    window = make_window(requests_per_min=500.0, replicas=[3.0] * 60)
    d = decide(inputs(window, strategy=strategy_at(500.0, UM)))
    assert d.current_replicas == 3


def test_a_change_seen_in_the_window_starts_the_scale_down_cooldown() -> None:
    window = make_window(requests_per_min=300.0, replicas=[3.0] * 58 + [4.0] * 2)
    d = decide(inputs(window, strategy=strategy_at(300.0, UM)))
    assert d.current_replicas == 4 and d.target_replicas == 4
    assert any("cooldown" in e.detail for e in d.explanation if e.kind == "guard")


def test_a_scale_down_does_not_hold_the_next_one() -> None:
    """Successive scale-downs are paced by the stabilisation, not by the cooldown (as HPA)."""
    window = make_window(requests_per_min=300.0, replicas=[5.0] * 58 + [4.0] * 2)
    fell = (RecentAction(Action.SCALE_DOWN, NOW - timedelta(minutes=1)),)
    d = decide(inputs(window, strategy=strategy_at(300.0, UM), recent_actions=fell))
    assert d.current_replicas == 4 and d.action is Action.SCALE_DOWN and d.target_replicas < 4
    assert not any("cooldown" in e.detail for e in d.explanation if e.kind == "guard")
    # the same minute after a scale-up instead: the new replicas settle first
    grew = (RecentAction(Action.SCALE_UP, NOW - timedelta(minutes=1)),)
    rose = make_window(requests_per_min=300.0, replicas=[3.0] * 58 + [4.0] * 2)
    held = decide(inputs(rose, strategy=strategy_at(300.0, UM), recent_actions=grew))
    assert held.target_replicas == 4
    assert any("cooldown" in e.detail for e in held.explanation if e.kind == "guard")


def test_slow_inter_container_call_alerts_with_the_link_named() -> None:
    ag = CATALOG.get("nexus-agendamento")
    window = make_window("nexus-agendamento", network_latency=820.0, requests_per_min=50.0)
    d = decide(inputs(window, profile=ag, current_replicas=1))
    assert d.action is Action.ALERT and d.alert_admin
    assert "nexus-agendamento → nexus-crm 820 ms" in d.reason


def test_calls_three_times_slower_than_usual_alert_from_a_tenth_of_a_second() -> None:
    """Usual calls take 15 ms: 180 ms for three minutes is slow (3x, above the 0.1 s floor);
    one minute of it, or 60 ms (4x but under the floor), is not (decide/links.py)."""
    ag = CATALOG.get("nexus-agendamento")

    def with_latency(tail: list[float]) -> Decision:
        latency = [15.0] * (60 - len(tail)) + tail
        window = make_window("nexus-agendamento", network_latency=latency, requests_per_min=50.0)
        return decide(inputs(window, profile=ag, current_replicas=1))

    slow = with_latency([180.0] * 3)
    assert slow.action is Action.ALERT and slow.alert_admin
    assert "slow calls (> 100 ms): nexus-agendamento → nexus-crm 180 ms" in slow.reason
    for calm in (with_latency([15.0, 15.0, 180.0]), with_latency([60.0] * 3)):
        assert calm.action is Action.HOLD and not calm.alert_admin


def test_regression_after_a_deploy_recommends_a_scoped_rollback() -> None:
    errors = [0.01 + 0.001 * (i % 3) for i in range(30)] + [
        0.12 + 0.01 * (i % 3) for i in range(30)
    ]
    window = make_window(error_rate=errors)
    d = decide(
        inputs(window, deployed_at=NOW - timedelta(minutes=29, seconds=30), current_replicas=2)
    )
    assert d.action is Action.ROLLBACK and d.rollback
    assert d.rollback_scope is RollbackScope.MODULE_ONLY
    assert any(e.kind == "canary" and "error_rate" in e.detail for e in d.explanation)


def test_a_naive_deploy_time_is_read_as_utc() -> None:
    window = make_window(error_rate=[0.01] * 60)
    aware = NOW - timedelta(minutes=30)
    naive = aware.replace(tzinfo=None)
    a = decide(inputs(window, deployed_at=aware, current_replicas=2))
    b = decide(inputs(window, deployed_at=naive, current_replicas=2))
    assert a == b


def test_at_the_maximum_and_still_overloaded_the_operators_are_told() -> None:
    crm = CATALOG.get("nexus-crm")
    full = crm.max_replicas * crm.capacity_rpm_per_replica * crm.target_utilisation
    window = make_window("nexus-crm", requests_per_min=1.3 * full)
    strategy = strategy_at(1.3 * full, crm)
    strategy.observe([1.3 * full])
    d = decide(inputs(window, profile=crm, strategy=strategy, current_replicas=crm.max_replicas))
    assert d.action is Action.ALERT and d.alert_admin and d.target_replicas == crm.max_replicas
    assert f"at its maximum of {crm.max_replicas} replicas" in d.reason
    below = decide(inputs(window, profile=crm, strategy=strategy, current_replicas=2))
    assert below.action is Action.SCALE_UP  # below the maximum there is something to do
