"""The grouper: one message per (module, problem) per window; routine scale alerts per 30 min."""

from __future__ import annotations

from nexus_ml.alerts.grouping import AlertGrouper
from nexus_ml.alerts.notifier import Alert


class Seconds:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_routine_scale_ups_are_one_message_per_module_per_30_min_with_a_count() -> None:
    clock = Seconds()
    grouper = AlertGrouper(600, clock=clock)
    crm, um = Alert(module="crm", problem="demand_high"), Alert(module="um", problem="demand_high")
    admitted = []
    for minute in range(0, 61, 5):  # a busy hour: a scale-up of crm every 5 minutes
        clock.now = minute * 60.0
        admitted.append((minute, grouper.admit(crm)))
    sent = [(m, r) for m, r in admitted if r is not None]
    assert sent == [(0, 0), (30, 5), (60, 5)]  # 13 scale-ups, 3 messages, each with its count
    assert grouper.admit(um) == 0  # another module is not held back by crm's window


def test_other_problems_keep_the_default_window_and_outcomes_are_never_grouped() -> None:
    clock = Seconds()
    grouper = AlertGrouper(600, clock=clock)
    restart = Alert(module="crm", problem="degradation")
    assert grouper.admit(restart) == 0
    clock.now = 601.0
    assert grouper.admit(restart) == 0  # 10 min later it goes out again
    outcome = Alert(module="crm", problem="outcome")
    assert [grouper.admit(outcome) for _ in range(3)] == [0, 0, 0]


def test_an_applied_action_is_not_held_back_behind_a_warning_without_one() -> None:
    """An early warning (nothing done yet) and then the restart of the same module: two
    messages; a second restart within the window is a repeat again."""
    clock = Seconds()
    grouper = AlertGrouper(600, clock=clock)
    warning = Alert(module="agendamento", problem="degradation")
    restart = Alert(module="agendamento", problem="degradation", acted=True)
    assert grouper.admit(warning) == 0
    clock.now = 60.0
    assert grouper.admit(warning) is None  # a repeat of the warning
    clock.now = 120.0
    assert grouper.admit(restart) == 1  # news: it goes out, with the repeat it stands for
    clock.now = 180.0
    assert grouper.admit(restart) is None and grouper.admit(warning) is None
