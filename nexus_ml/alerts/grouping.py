"""Grouping and de-duplication of alerts per (module, problem) within a time window.

Routine scale alerts (``demand_high``, ``demand_low``) have a longer window — one message per
module per 30 min, with the count of the ones it stands for — so a busy day stays readable.
Follow-ups (``outcome``) are never grouped: each answers one message that was sent. An alert
whose action was applied (``Alert.acted``) is not held back behind a message that reported no
action: an early warning ("nothing done yet") and then the restart are two messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from nexus_ml.alerts.alert import Alert


@dataclass
class _Group:
    sent_at: float
    suppressed: int = 0
    acted: bool = False  # the message sent reported an applied action


#: Problems of routine actions and their de-duplication window (seconds).
ROUTINE_WINDOWS: dict[str, float] = {"demand_high": 1800.0, "demand_low": 1800.0}
UNGROUPED = frozenset({"outcome"})


class AlertGrouper:
    """Let the first alert of a (module, problem) through, hold the repeats for ``window_s``.

    The next alert after the window goes out with the count of the repeats it stands for, so
    operators see one message per incident and still know how often it fired.

    Parameters
    ----------
    window_s
        The de-duplication window in seconds.
    windows
        Per-problem windows that override ``window_s`` (default :data:`ROUTINE_WINDOWS`).
    clock
        Monotonic seconds (injected for tests).
    """

    def __init__(
        self,
        window_s: float = 600.0,
        *,
        windows: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.window_s = window_s
        self.windows = dict(ROUTINE_WINDOWS if windows is None else windows)
        self._clock = clock
        self._groups: dict[tuple[str, str], _Group] = {}
        self._lock = threading.Lock()

    def admit(self, alert: Alert) -> int | None:
        """``None`` to drop ``alert`` as a repeat; otherwise the repeats it now reports."""
        if alert.problem in UNGROUPED:
            return 0
        key = (alert.module, alert.problem)
        window = self.windows.get(alert.problem, self.window_s)
        now = self._clock()
        with self._lock:
            group = self._groups.get(key)
            news = alert.acted and group is not None and not group.acted
            if group is not None and now - group.sent_at < window and not news:
                group.suppressed += 1
                return None
            repeats = group.suppressed if group is not None else 0
            self._groups[key] = _Group(sent_at=now, acted=alert.acted)
            return repeats

    def forget(self, alert: Alert) -> None:
        """Undo :meth:`admit` for an alert that could not be delivered (so it is retried)."""
        with self._lock:
            self._groups.pop((alert.module, alert.problem), None)
