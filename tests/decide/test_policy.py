from __future__ import annotations

from datetime import timedelta

import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.decide.confidence import exceed_probability
from nexus_ml.decide.policy import DecisionInputs, ModuleMemory, decide
from nexus_ml.domain import Action, RollbackScope
from tests.decide.windows import NAN, NOW, flat_forecast, make_window

CATALOG = load_catalog()
UM = CATALOG.get("nexus-user-management")  # 1200 rpm/replica at 0.70 → 840 rpm; min 2, max 8


def inputs(window=None, **kw):  # type: ignore[no-untyped-def]
    return DecisionInputs(
        profile=kw.pop("profile", UM),
        window=window or make_window(),
        now=NOW,
        catalog=CATALOG,
        **kw,
    )


def test_forecast_above_capacity_scales_up_with_its_probability_as_confidence() -> None:
    fc = flat_forecast(2600.0)
    d, _ = decide(inputs(make_window(requests_per_min=1500.0), forecast=fc, current_replicas=2))
    assert d.action is Action.SCALE_UP and d.scale_up and d.policy == "model"
    assert d.target_replicas == 4  # ceil(2860 / 840)
    expected = exceed_probability(fc.mean, fc.lo, fc.hi, 2 * 840.0)
    assert d.confidence == pytest.approx(expected, abs=1e-4)
    kinds = {e.kind for e in d.explanation}
    assert {"forecast_peak", "exceed_probability", "freshness"} <= kinds
    assert d.decided_at == NOW


def test_observed_overload_backs_a_scale_up_the_forecast_did_not_see() -> None:
    fc = flat_forecast(1000.0)  # the model expects quiet: P(exceed 1680 rpm) is tiny
    d, _ = decide(inputs(make_window(requests_per_min=2000.0), forecast=fc, current_replicas=2))
    assert d.action is Action.SCALE_UP and d.target_replicas == 3  # ceil(2000 / 840)
    assert exceed_probability(fc.mean, fc.lo, fc.hi, 2 * 840.0) < 0.01
    assert d.confidence == 1.0  # 5 of the last 5 minutes above capacity
    assert any(e.kind == "observed_overload" for e in d.explanation)


def test_confidence_of_a_borderline_scale_up_is_moderate() -> None:
    fc = flat_forecast(1700.0, spread=0.2)  # mean just above 2 replicas' 1680 rpm
    d, _ = decide(inputs(make_window(requests_per_min=1600.0), forecast=fc, current_replicas=2))
    assert d.action is Action.SCALE_UP and 0.5 < d.confidence < 0.6


def test_missing_data_never_scales_down() -> None:
    window = make_window(requests_per_min=[100.0] * 55 + [NAN] * 5)
    d, _ = decide(inputs(window, forecast=flat_forecast(100.0), current_replicas=5))
    assert d.target_replicas == 5 and d.action is Action.HOLD and d.stale_input
    assert any(e.kind == "guard" and "missing" in e.detail for e in d.explanation)


def test_stale_data_never_scales_down() -> None:
    window = make_window(requests_per_min=100.0, end=NOW - timedelta(minutes=20))
    d, _ = decide(inputs(window, forecast=flat_forecast(100.0), current_replicas=5))
    assert d.target_replicas == 5 and d.stale_input and d.confidence <= 0.5


def test_never_beyond_the_catalog_max() -> None:
    d, _ = decide(
        inputs(make_window(requests_per_min=9e5), forecast=flat_forecast(1e6), current_replicas=4)
    )
    assert d.target_replicas == UM.max_replicas
    guards = [e.detail for e in d.explanation if e.kind == "guard"]
    assert any("limited to 8" in g for g in guards)
    assert any("clamped" in e.detail for e in d.explanation)


def test_stabilisation_delays_scale_down() -> None:
    memory, replicas, changes = ModuleMemory(), 2, []
    for minute in range(40):
        demand = 4000.0 if minute < 10 else 500.0
        now = NOW + timedelta(minutes=minute)
        window = make_window(requests_per_min=demand, end=now)
        d, memory = decide(
            DecisionInputs(
                profile=UM,
                window=window,
                now=now,
                forecast=flat_forecast(demand, start=now),
                current_replicas=replicas,
            ),
            memory,
        )
        if d.target_replicas != replicas:
            changes.append((minute, d.target_replicas))
        replicas = d.target_replicas
    assert changes[0] == (0, 6)  # up at once: ceil(4400 / 840)
    first_down = next(minute for minute, target in changes if target < 6)
    assert first_down >= 15  # neither the dip's first minutes nor before the cooldown
    assert replicas == UM.min_replicas  # but it does come down in the end


def test_scale_down_confidence_is_the_probability_that_the_smaller_capacity_holds() -> None:
    memory = ModuleMemory(last_change_at=NOW - timedelta(hours=1))
    fc = flat_forecast(500.0)
    d, _ = decide(
        inputs(make_window(requests_per_min=500.0), forecast=fc, current_replicas=4), memory
    )
    assert d.action is Action.SCALE_DOWN and d.target_replicas == 2
    assert d.confidence == pytest.approx(
        1 - exceed_probability(fc.mean, fc.lo, fc.hi, 2 * 840.0), abs=1e-4
    )


def test_without_a_forecast_the_seed_rules_decide_with_lower_confidence() -> None:
    window = make_window(cpu_usage=[0.4] * 55 + [0.85] * 5)
    d, _ = decide(inputs(window, current_replicas=3))
    assert d.policy == "rules" and d.action is Action.SCALE_UP and d.target_replicas == 4
    assert d.confidence <= 0.6 and d.model_versions == {}


def test_degradation_confirmed_by_anomaly_restarts_once_per_minute() -> None:
    window = make_window(
        response_time=[100.0] * 57 + [500.0] * 3, error_rate=[0.01] * 57 + [0.09] * 3
    )
    i = inputs(window, anomaly={"combined": 0.9, "response_time": 0.95}, current_replicas=2)
    d, memory = decide(i)
    assert d.action is Action.RESTART and d.restart
    again, memory2 = decide(i, memory)
    assert again == d and len(memory2.restarts) == 1
    assert any(e.kind == "anomaly" for e in d.explanation)


def test_slow_inter_container_call_alerts_with_the_link_named() -> None:
    ag = CATALOG.get("nexus-agendamento")
    window = make_window("nexus-agendamento", network_latency=820.0, requests_per_min=50.0)
    d, _ = decide(inputs(window, profile=ag, current_replicas=1))
    assert d.action is Action.ALERT and d.alert_admin
    assert "nexus-agendamento → nexus-crm 820 ms" in d.reason


def test_regression_after_a_deploy_recommends_a_scoped_rollback() -> None:
    errors = [0.01 + 0.001 * (i % 3) for i in range(30)] + [
        0.12 + 0.01 * (i % 3) for i in range(30)
    ]
    window = make_window(error_rate=errors)
    d, _ = decide(
        inputs(window, deployed_at=NOW - timedelta(minutes=29, seconds=30), current_replicas=2)
    )
    assert d.action is Action.ROLLBACK and d.rollback
    assert d.rollback_scope is RollbackScope.MODULE_ONLY
    assert any(e.kind == "canary" and "error_rate" in e.detail for e in d.explanation)


def test_same_minute_twice_gives_the_same_decision() -> None:
    i = inputs(make_window(requests_per_min=2000.0), forecast=flat_forecast(2600.0))
    first, memory = decide(i)
    second, _ = decide(i, memory)
    assert first == second and first.current_replicas == UM.min_replicas
