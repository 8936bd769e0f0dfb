"""The ``Notifier`` seam (the alert itself is :class:`nexus_ml.alerts.alert.Alert`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, Protocol

from nexus_ml.alerts.alert import Alert
from nexus_ml.errors import NexusError
from nexus_ml.logs import get_logger

if TYPE_CHECKING:
    from nexus_ml.alerts.grouping import AlertGrouper

log = get_logger(__name__)

__all__ = ["Alert", "AlertDeliveryError", "LogNotifier", "Notifier"]


class Notifier(Protocol):
    def send(self, alert: Alert) -> bool:
        """Deliver ``alert``; False when it was grouped/de-duplicated and not sent."""
        ...


class AlertDeliveryError(NexusError):
    """An alert could not be delivered (after the notifier's retries)."""

    exit_code = 9
    http_status = 502


class LogNotifier:
    """Alerts as log lines (the embedded default); keeps what it sent in ``sent``."""

    def __init__(
        self, language: Literal["pt", "en"] = "pt", *, grouper: AlertGrouper | None = None
    ):
        self.language = language
        self.sent: list[Alert] = []
        self._grouper = grouper

    def send(self, alert: Alert) -> bool:
        from nexus_ml.alerts.render import problem_title

        repeats = self._grouper.admit(alert) if self._grouper else 0
        if repeats is None:
            return False
        self.sent.append(alert)
        log.warning(
            "alert.logged",
            severity=alert.severity,
            module=alert.module,
            problem=alert.problem,
            title=problem_title(alert.problem, self.language),
            action=alert.action_taken or None,
            next_action=alert.next_action or None,
            grouped=repeats,
        )
        return True
