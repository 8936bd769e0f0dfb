"""The seam between the decision service's Alertmanager webhook and the crisis store.

A firing alert at HIGH or above opens an incident in the record store (unless the module already
has an open one). The service only writes that row: the executor's collection worker adopts the
incident the next time it hears about the module, attaches its actions, collects the evidence
and closes it with the full report once the module is healthy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from nexus_ml.crisis.record_stores import record_store_for
from nexus_ml.crisis.records import IncidentRecord, RecordStore
from nexus_ml.crisis.rules import CrisisRules, Severity, load_rules
from nexus_ml.crisis.triggers import CrisisEvent, alert_event
from nexus_ml.errors import NexusError
from nexus_ml.logs import get_logger

if TYPE_CHECKING:
    from nexus_ml.settings import Settings

log = get_logger(__name__)


class AlertIncidentSink:
    """Open incidents for firing Alertmanager alerts.

    Parameters
    ----------
    store, rules
        Where incidents live; which error types and severities exist.
    clock
        The time of the opening (tests pass a fixed one).
    """

    def __init__(
        self,
        store: RecordStore,
        rules: CrisisRules,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.rules = rules
        self.clock = clock

    def firing(self, module: str, labels: Mapping[str, str]) -> str | None:
        """Open (or find) ``module``'s incident for a firing alert; ``None`` below HIGH or when
        the store is unavailable (logged: the webhook must still answer)."""
        now = self.clock()
        event = alert_event(now, module, dict(labels), self.rules)
        if event is None:
            return None
        return self._open(now, event, source="alertmanager")

    def release_failed(self, module: str, release_id: str, reason: str) -> str | None:
        """Open (or find) ``module``'s incident for a release the gate judged Failed (a crash
        the module never served, so its data is what the gate measured: type CRASH, HIGH)."""
        now = self.clock()
        event = CrisisEvent(
            at=now,
            module=module,
            source="release_gate",
            action="block",
            severity=Severity.HIGH,
            error_type="CRASH" if "CRASH" in self.rules.error_types else "ERROR_BURST",
            trigger=f"release {release_id} judged Failed: {reason}"[:500],
        )
        return self._open(now, event, source="release_gate")

    def _open(self, now: datetime, event: CrisisEvent, *, source: str) -> str | None:
        module = event.module
        try:
            current = self.store.open_for(module)
            if current is not None:
                return current.id
            short = module.removeprefix("nexus-")
            kind = event.error_type.lower().replace("_", "-")
            record = self.store.open_incident(
                IncidentRecord(
                    id=f"{now:%Y%m%dT%H%MZ}-{short}-{kind}",
                    module=module,
                    error_type=event.error_type,
                    severity=(event.severity.value if event.severity else "HIGH"),
                    source=source,
                    trigger=event.trigger,
                    opened_at=now,
                )
            )
        except NexusError as exc:
            log.error("incident.open_failed", module=module, source=source, error=str(exc))
            return None
        log.warning(
            "incident.opened",
            incident=record.id,
            module=module,
            source=source,
            trigger=record.trigger,
        )
        return record.id


def alert_incident_sink_for(settings: Settings) -> AlertIncidentSink:
    """The sink of ``settings`` (PostgreSQL store when ``NEXUS_PG_DSN`` is set, else files)."""
    return AlertIncidentSink(record_store_for(settings), load_rules(settings.crisis_rules_path))
