"""When a module last changed, read from the window's replica counts and the applied actions."""

from __future__ import annotations

from datetime import timedelta

from nexus_ml.decide.observed import RecentAction, last_change_at
from nexus_ml.domain import Action
from tests.decide.windows import NOW, make_window


def test_a_count_that_moved_or_an_action_is_a_change() -> None:
    window = make_window(replicas=[3.0] * 50 + [4.0] * 10)
    assert last_change_at(window, ()) == window.timestamps[50]
    later = NOW - timedelta(minutes=2)
    assert last_change_at(window, (RecentAction(Action.RESTART, later),)) == later


def test_without_scale_downs_only_what_added_or_replaced_replicas_counts() -> None:
    window = make_window(replicas=[3.0] * 40 + [5.0] * 10 + [4.0] * 10)
    fell = NOW - timedelta(minutes=1)
    actions = (RecentAction(Action.SCALE_DOWN, fell),)
    assert last_change_at(window, actions) == fell
    # the rise to 5 is the last change a scale-down waits on; the fall to 4 and the applied
    # scale-down are not
    assert last_change_at(window, actions, scale_downs=False) == window.timestamps[40]
    only_falls = make_window(replicas=[5.0] * 30 + [4.0] * 30)
    assert last_change_at(only_falls, actions, scale_downs=False) is None
