"""Guardrails: each check can refuse, and the verdict says why."""

from __future__ import annotations

from datetime import timedelta

import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.decide.strategy import break_even_confidence
from nexus_ml.domain.decision import Action
from nexus_ml.execute.backend import ServiceState
from nexus_ml.execute.guardrails import GuardrailConfig, Guardrails

from .conftest import CRM, T0, decision

PROFILE = load_catalog().get(CRM)  # min 1, max 4


def state(replicas: int = 2, by_hand: bool = False) -> ServiceState:
    return ServiceState(CRM, replicas, replicas, "nexus-module:1", 5, updated_by_hand=by_hand)


def check(guard: Guardrails, d, st=None, *, at=T0, decided_at=T0):  # type: ignore[no-untyped-def]
    return guard.check(d, st if st is not None else state(), PROFILE, now=at, decided_at=decided_at)


def test_a_valid_scale_up_is_allowed_with_its_target() -> None:
    v = check(Guardrails(), decision(action="scale_up", current=2, target=4))
    assert (v.act, v.reason, v.target) == (True, "ok", 4)


@pytest.mark.parametrize("target", [5, 99])
def test_targets_beyond_the_catalog_maximum_are_refused(target: int) -> None:
    v = check(Guardrails(), decision(action="scale_up", current=2, target=target))
    assert not v.act and v.reason == "out_of_range" and str(target) in v.detail and v.alerting


def test_scale_down_below_the_minimum_is_refused() -> None:
    v = check(Guardrails(), decision(action="scale_down", current=2, target=0))
    assert (v.act, v.reason) == (False, "out_of_range")


def test_a_decision_older_than_two_intervals_is_refused() -> None:
    guard = Guardrails(GuardrailConfig(interval_s=60))
    d = decision(action="scale_up", current=2, target=3)
    assert check(guard, d, decided_at=T0 - timedelta(seconds=119)).act
    v = check(guard, d, decided_at=T0 - timedelta(seconds=121))
    assert (v.act, v.reason) == (False, "stale_decision") and v.alerting


def test_no_scale_down_restart_or_rollback_on_missing_data_but_scale_up_is_allowed() -> None:
    guard = Guardrails()
    for action, cur, tgt in (("scale_down", 3, 2), ("restart", 2, 2), ("rollback", 2, 2)):
        v = check(
            guard, decision(action=action, current=cur, target=tgt, stale_input=True), state(3)
        )
        assert (v.act, v.reason) == (False, "stale_input")
    assert check(guard, decision(action="scale_up", current=2, target=3, stale_input=True)).act


def test_a_missing_service_holds() -> None:
    v = Guardrails().check(decision(action="restart"), None, PROFILE, now=T0, decided_at=T0)
    assert (v.act, v.reason) == (False, "service_unavailable")


def test_cooldown_per_action_then_allowed_again() -> None:
    guard = Guardrails(GuardrailConfig(cooldown_s={Action.RESTART: 600}))
    d = decision(action="restart", confidence=0.95)
    assert check(guard, d).act
    guard.record(CRM, Action.RESTART, T0)
    v = check(guard, d, at=T0 + timedelta(seconds=300), decided_at=T0 + timedelta(seconds=300))
    assert (v.act, v.reason) == (False, "cooldown")
    later = T0 + timedelta(seconds=601)
    assert check(guard, d, at=later, decided_at=later).act


@pytest.mark.parametrize("change", [Action.SCALE_UP, Action.RESTART, Action.ROLLBACK])
def test_scale_down_waits_after_replicas_were_added_then_reaches_its_target(
    change: Action,
) -> None:
    guard = Guardrails(GuardrailConfig(cooldown_s={Action.SCALE_DOWN: 300}))
    guard.record(CRM, change, T0)
    d = decision(action="scale_down", current=4, target=1)
    soon = T0 + timedelta(seconds=100)
    assert check(guard, d, state(4), at=soon, decided_at=soon).reason == "cooldown"
    later = T0 + timedelta(seconds=301)
    v = check(guard, d, state(4), at=later, decided_at=later)
    assert (v.act, v.target) == (True, 1)  # no step limit by default, as the HPA


def test_successive_scale_downs_are_not_held_by_the_cooldown() -> None:
    # the strategy's stabilisation paces them, as Kubernetes' HPA (no downscale delay)
    guard = Guardrails()
    guard.record(CRM, Action.SCALE_UP, T0)
    first = T0 + timedelta(seconds=301)
    assert check(
        guard,
        decision(action="scale_down", current=4, target=3),
        state(4),
        at=first,
        decided_at=first,
    ).act
    guard.record(CRM, Action.SCALE_DOWN, first)
    nxt = first + timedelta(seconds=60)
    v = check(
        guard, decision(action="scale_down", current=3, target=2), state(3), at=nxt, decided_at=nxt
    )
    assert (v.act, v.target) == (True, 2)


def test_a_scale_down_step_limit_makes_replicas_fall_slowly() -> None:
    guard = Guardrails(GuardrailConfig(cooldown_s={}, max_scale_down_step=1))
    v = check(guard, decision(action="scale_down", current=4, target=1), state(4))
    assert (v.act, v.target) == (True, 3)


def test_default_scale_bars_are_the_strategy_acceptance_limits() -> None:
    bars = GuardrailConfig().min_confidence
    assert bars[Action.SCALE_UP] == pytest.approx(break_even_confidence())
    assert bars[Action.SCALE_DOWN] == 0.5
    guard = Guardrails()
    held = check(guard, decision(action="scale_down", current=4, target=3, confidence=0.49))
    assert (held.act, held.reason) == (False, "low_confidence")


def test_hourly_cap_on_changes() -> None:
    guard = Guardrails(GuardrailConfig(max_changes_per_hour=2, cooldown_s={}))
    for i in range(2):
        guard.record(f"m{i}", Action.SCALE_UP, T0)
    v = check(guard, decision(action="scale_up", current=2, target=3))
    assert (v.act, v.reason) == (False, "change_cap")
    later = T0 + timedelta(hours=1)
    assert check(
        guard, decision(action="scale_up", current=2, target=3), at=later, decided_at=later
    ).act


def test_minimum_confidence_per_action() -> None:
    guard = Guardrails(GuardrailConfig(min_confidence={Action.ROLLBACK: 0.9}))
    v = check(guard, decision(action="rollback", confidence=0.85))
    assert (v.act, v.reason) == (False, "low_confidence") and "0.85" in v.detail
    assert check(guard, decision(action="rollback", confidence=0.95)).act


def test_preview_mode_never_acts_but_says_what_it_would_do() -> None:
    v = check(
        Guardrails(GuardrailConfig(preview=True)), decision(action="scale_up", current=2, target=3)
    )
    assert (v.act, v.reason, v.target) == (False, "preview", 3) and "2 -> 3" in v.detail


def test_a_service_changed_by_hand_is_left_alone_for_the_hold_time() -> None:
    guard = Guardrails(GuardrailConfig(manual_change_hold_s=600))
    d = decision(action="scale_up", current=2, target=3)
    assert check(guard, d, state(2, by_hand=True)).reason == "manual_change"
    mid = T0 + timedelta(seconds=300)
    assert check(guard, d, state(2, by_hand=True), at=mid, decided_at=mid).reason == "manual_change"
    end = T0 + timedelta(seconds=601)
    assert check(guard, d, state(2, by_hand=True), at=end, decided_at=end).act


def test_hold_and_already_at_target_are_not_changes() -> None:
    assert check(Guardrails(), decision()).reason == "hold"
    v = check(Guardrails(), decision(action="scale_up", current=1, target=2), state(2))
    assert (v.act, v.reason) == (False, "at_target")


def test_an_unknown_module_is_refused() -> None:
    v = Guardrails().check(
        decision(module="nexus-ghost", action="restart"), state(), None, now=T0, decided_at=T0
    )
    assert (v.act, v.reason) == (False, "unknown_module")
