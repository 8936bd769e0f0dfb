"""Incidents that open, grow and close by themselves, from the events the executor reports.

:class:`AutoIncidents` is the worker-side half of the executor's incident hook (the queue and
thread are in :mod:`nexus_ml.execute.incidents`). It opens an incident on a crisis event (or
adopts one Alertmanager opened in the store), attaches every later event of the module to it as
an ``actions`` row, snapshots Swarm's logs and tasks, and closes the incident once the module has
been healthy for ``healthy_for``; closing collects the metric window and writes the full report
(Markdown, HTML, plot, Telegram summary text) into ``report_dir/<id>/``.

Every collaborator besides the store and the rules is optional: without a metric source the
report says the cause is unknown; without a Docker client there are no logs or tasks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from nexus_ml.catalog import Catalog
from nexus_ml.crisis.cause import Language
from nexus_ml.crisis.collect import CollectedIncident, collect_incident
from nexus_ml.crisis.full_report import FullCrisisReport, build_full_report
from nexus_ml.crisis.full_report_render import (
    render_full_html,
    render_full_markdown,
    telegram_summary,
)
from nexus_ml.crisis.gather import StoreResult, log_rows, metric_rows, store_rows
from nexus_ml.crisis.records import IncidentRecord, RecordStore
from nexus_ml.crisis.report import plot_key_metrics
from nexus_ml.crisis.rules import CrisisRules
from nexus_ml.crisis.swarm_evidence import collect_swarm, read_release
from nexus_ml.crisis.triggers import CrisisEvent
from nexus_ml.errors import NexusError
from nexus_ml.execute.audit import AuditEntry, AuditTrail, Redactor
from nexus_ml.ingest.source import MetricSource
from nexus_ml.logs import get_logger

log = get_logger(__name__)
_SAFE = re.compile(r"[^a-z0-9]+")
#: How often a healthy module's events look for an incident opened elsewhere (Alertmanager).
ADOPT_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class AutoConfig:
    healthy_for: timedelta = timedelta(minutes=15)
    revenue_per_transaction: float = 0.0
    language: Language = "pt"
    report_url: str = ""  # base URL the Telegram summary links to (else the file path)
    logs_tail: int = 2000
    logs_max_bytes: int = 512 * 1024
    logs_before: timedelta = timedelta(minutes=10)


@dataclass
class Closed:
    """What closing an incident produced."""

    record: IncidentRecord
    report: FullCrisisReport
    markdown: Path
    html: Path
    summary: str
    stored: StoreResult


@dataclass
class _Open:
    record: IncidentRecord
    healthy_since: datetime | None = None


@dataclass
class AutoIncidents:
    """Open, attach and close incidents from :class:`CrisisEvent` s (one worker thread calls
    :meth:`handle`; it is not thread-safe by itself)."""

    store: RecordStore
    rules: CrisisRules
    catalog: Catalog
    report_dir: Path
    config: AutoConfig = field(default_factory=AutoConfig)
    source: MetricSource | None = None
    docker_client: Any = None
    service_prefix: str = ""
    audit: AuditTrail | None = None
    redactor: Redactor = field(default_factory=lambda: Redactor(()))
    secrets: Sequence[str | None] = ()
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    closed: list[Closed] = field(default_factory=list)
    _open: dict[str, _Open] = field(default_factory=dict)
    _images: dict[str, str] = field(default_factory=dict)
    _rolled_back: set[str] = field(default_factory=set)  # modules whose rollback was taken
    _checked: dict[str, datetime] = field(default_factory=dict)  # last store look-up per module

    def handle(self, event: CrisisEvent) -> Closed | None:
        """Apply one event; returns what closing produced when this event closed an incident."""
        change = self._image_change(event)
        current = self._open.get(event.module) or self._adopt(event)
        if event.is_crisis:
            if current is None:
                current = self._open_incident(event)
            current.healthy_since = None
        if current is None:
            return None
        self._attach(current.record, event, change)
        if event.acted and event.action == "rollback":
            self._rolled_back.add(event.module)
        if event.is_crisis:
            return None
        if current.healthy_since is None:
            current.healthy_since = event.at
        if event.at - current.healthy_since >= self.config.healthy_for:
            return self.close(event.module, event.at)
        return None

    # -- opening and attaching ---------------------------------------------------------------
    def _adopt(self, event: CrisisEvent) -> _Open | None:
        """An incident opened elsewhere (Alertmanager through the store) becomes this
        worker's. The store is asked at most once a minute per module unless a crisis event
        arrives (every module reports every tick)."""
        module = event.module
        last = self._checked.get(module)
        if not event.is_crisis and last is not None and event.at - last < ADOPT_EVERY:
            return None
        self._checked[module] = event.at
        try:
            found = self.store.open_for(module)
        except NexusError as exc:
            log.warning("incident.store_unavailable", module=module, error=str(exc))
            return None
        if found is None:
            return None
        self._open[module] = _Open(found)
        return self._open[module]

    def _open_incident(self, event: CrisisEvent) -> _Open:
        rule = self.rules.for_type(event.error_type)
        short = _SAFE.sub("-", event.module.removeprefix("nexus-").lower()).strip("-")
        kind = event.error_type.lower().replace("_", "-")
        wanted = f"{event.at.astimezone(UTC):%Y%m%dT%H%MZ}-{short}-{kind}"
        severity = event.severity.value if event.severity else rule.severity.value
        if event.severity is not None and rule.severity.rank > event.severity.rank:
            severity = rule.severity.value  # the rule's floor: a payment failure is CRITICAL
        record = self.store.open_incident(
            IncidentRecord(
                id=wanted,
                module=event.module,
                error_type=event.error_type,
                severity=severity,
                source=event.source,
                trigger=self.redactor.text(event.trigger),
                opened_at=event.at,
            )
        )
        log.warning(
            "incident.opened", incident=record.id, module=event.module, trigger=record.trigger
        )
        self._open[event.module] = _Open(record)
        self._note_release(record, event)
        self._snapshot_swarm(record, since=event.at - self.config.logs_before, now=event.at)
        return self._open[event.module]

    def _write_audit(self, at: datetime, event: str, module: str, data: dict[str, Any]) -> None:
        if self.audit is None:
            return
        try:
            self.audit.write(AuditEntry(at=at, event=event, module=module, executor="incidents",
                                        data=data))  # fmt: skip
        except Exception:  # the trail being down must not stop collection
            log.warning("incident.audit_failed", audit_event=event, module=module, exc_info=True)

    def _image_change(self, event: CrisisEvent) -> dict[str, Any] | None:
        """The image change seen since the module's last event, audited: a rollback the
        executor took (``rolled_back_to``) or a release (``image``, read as a deploy by the
        ``deploy_versions`` evidence; the executor's own entries carry no version)."""
        if not event.image:
            return None
        previous = self._images.get(event.module)
        self._images[event.module] = event.image
        if previous is None or previous == event.image:
            return None
        at = event.at.isoformat()
        if event.module in self._rolled_back:
            self._rolled_back.discard(event.module)
            row = {"at": at, "event": "rolled_back", "rolled_back_to": event.image,
                   "from_image": previous}  # fmt: skip
        else:
            row = {"at": at, "event": "image_changed", "image": event.image,
                   "previous_image": previous}  # fmt: skip
        self._write_audit(event.at, row["event"], event.module,
                          {k: v for k, v in row.items() if k not in ("at", "event")})  # fmt: skip
        return row

    def _note_release(self, record: IncidentRecord, event: CrisisEvent) -> None:
        """Record the release running when the incident opened (Swarm says which came before
        and when; otherwise the image the executor saw, at the opening)."""
        release: dict[str, Any] = {"image": event.image, "previous_image": "", "at": ""}
        if self.docker_client is not None:
            try:
                swarm = read_release(self.docker_client, self.service_prefix + record.module)
            except Exception as exc:
                log.warning(
                    "incident.release_unknown",
                    incident=record.id,
                    module=record.module,
                    error=str(exc),
                )
                swarm = {}
            if swarm.get("image") == event.image or not event.image:
                release = swarm
            elif swarm.get("previous_image") == event.image:
                # the worker runs behind the loop: Swarm already shows the executor's rollback,
                # whose target is the release before the one running at the opening
                release = {"image": event.image, "previous_image": swarm["image"], "at": ""}
        if not release.get("image"):
            return
        at = datetime.fromisoformat(release["at"]) if release.get("at") else record.opened_at
        data = {"image": release["image"], "previous_image": release.get("previous_image", "")}
        self._write_audit(at, "release_running", record.module, data)
        store_rows(self.store, self.rules, record.id, record.error_type,
                   {"actions": [{"at": at.isoformat(), "event": "release_running", **data}]},
                   record.opened_at)  # fmt: skip

    def _attach(
        self, record: IncidentRecord, event: CrisisEvent, change: dict[str, Any] | None
    ) -> None:
        rows: list[dict[str, Any]] = [change] if change is not None else []
        if event.action and (event.is_crisis or event.action not in ("hold",)):
            rows.append({
                "at": event.at.isoformat(), "event": "action_taken" if event.acted else
                ("alert" if event.source == "alertmanager" else "action_skipped"),
                "action": event.action, "outcome": "taken" if event.acted else
                f"skipped ({event.reason})" if event.source == "executor" else "reported",
                "reason": event.reason, "detail": self.redactor.text(event.detail)[:500],
                "image": event.image, "source": event.source,
            })  # fmt: skip
        if rows:
            store_rows(self.store, self.rules, record.id, record.error_type,
                       {"actions": rows}, event.at)  # fmt: skip

    def _snapshot_swarm(self, record: IncidentRecord, *, since: datetime, now: datetime) -> None:
        if self.docker_client is None:
            return
        evidence = collect_swarm(
            self.docker_client, self.service_prefix + record.module, since=since,
            tail=self.config.logs_tail, max_bytes=self.config.logs_max_bytes,
            secrets=self.secrets,
        )  # fmt: skip
        rows = log_rows(evidence.logs)
        rows["task_states"] = evidence.tasks
        store_rows(self.store, self.rules, record.id, record.error_type, rows, now)

    # -- closing -------------------------------------------------------------------------------
    def close(self, module: str, at: datetime) -> Closed | None:
        """Close ``module``'s incident at ``at``: final evidence, then the full report."""
        current = self._open.pop(module, None)
        if current is None:
            return None
        record = self.store.close_incident(current.record.id, at)
        log.info(
            "incident.closed",
            incident=record.id,
            module=record.module,
            open_s=(at - record.opened_at).total_seconds(),
        )
        self._snapshot_swarm(record, since=record.opened_at - self.config.logs_before, now=at)
        collected = self._collect_metrics(record)
        stored = StoreResult()
        if collected is not None:
            deps = [m for m in collected.manifest.modules if m != record.module]
            stored = store_rows(self.store, self.rules, record.id, record.error_type,
                                metric_rows(collected.frame, record.module, deps), at)  # fmt: skip
        done = self._write_report(record, collected, stored)
        self.closed.append(done)
        return done

    def _collect_metrics(self, record: IncidentRecord) -> CollectedIncident | None:
        if self.source is None:
            return None
        from nexus_ml.crisis.collection import load_collection_plans

        plan = load_collection_plans().for_type(self.rules.for_type(record.error_type).plan)
        try:
            return collect_incident(
                module=record.module, error_type=plan_type(self.rules, record.error_type),
                started_at=record.opened_at, ended_at=record.closed_at, plan=plan,
                source=self.source, catalog=self.catalog,
                now=max(self.clock(), record.closed_at or record.opened_at),
                audit=self.audit, redactor=self.redactor, incident_id_=record.id,
            )  # fmt: skip
        except NexusError as exc:
            log.warning("incident.metrics_not_collected", incident=record.id, error=str(exc))
            return None

    def _write_report(
        self, record: IncidentRecord, collected: CollectedIncident | None, stored: StoreResult
    ) -> Closed:
        folder = self.report_dir / record.id
        folder.mkdir(parents=True, exist_ok=True)
        lang = self.config.language
        report = build_full_report(
            record, self.store, self.rules, self.catalog, collected=collected,
            revenue_per_transaction=self.config.revenue_per_transaction, language=lang,
        )  # fmt: skip
        plot = None
        if collected is not None:
            plot = plot_key_metrics(collected, folder / f"crisis.{lang}.png", language=lang)
        md = folder / f"crisis.{lang}.md"
        md.write_text(render_full_markdown(report, plot_name=plot.name if plot else None),
                      encoding="utf-8")  # fmt: skip
        page = folder / f"crisis.{lang}.html"
        page.write_text(render_full_html(report, plot=plot), encoding="utf-8")
        url = f"{self.config.report_url.rstrip('/')}/{record.id}" if self.config.report_url else (
            page.resolve().as_uri())  # fmt: skip
        summary = telegram_summary(report, url)
        (folder / f"telegram.{lang}.txt").write_text(summary + "\n", encoding="utf-8")
        (folder / "report.json").write_text(report.model_dump_json(indent=2), encoding="utf-8")
        return Closed(record, report, md, page, summary, stored)


def plan_type(rules: CrisisRules, error_type: str) -> Any:
    """The :class:`~nexus_ml.domain.crisis.ErrorType` whose collection plan ``error_type``
    uses."""
    return rules.for_type(error_type).plan
