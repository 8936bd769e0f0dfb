"""Fill the dashboard's history from the engine: new minutes, the forecast band, audit outcomes.

One :meth:`DashboardSampler.sample` reads every module's window through the engine (its cache
makes a repeat within ``cache_s`` free), appends the minutes not yet kept, asks the champion for
the next ``horizon`` minutes with the 80 % band (only when a new minute arrived), exports that
band as ``nexus_forecast_requests_per_min{module,quantile}``, and joins the executor's audit
entries (action taken, skipped or failed; alerts) onto the decision markers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from prometheus_client import CollectorRegistry, Gauge

from nexus_ml.alerts.render import problem_title
from nexus_ml.engine import DecisionEngine
from nexus_ml.errors import NexusError
from nexus_ml.execute.audit import AuditTrail
from nexus_ml.logs import get_logger
from service.core.history import AlertNote, DashboardHistory, epoch

log = get_logger(__name__)

FORECAST_METRIC = "nexus_forecast_requests_per_min"
QUANTILES = (("0.1", "lo-80"), ("0.5", "mean"), ("0.9", "hi-80"))  # the 80 % band and centre
_OUTCOMES = {"action_taken": "applied", "action_skipped": "skipped", "action_failed": "failed"}
_ALERTS = {"alert_sent": True, "alert_grouped": False, "alert_failed": False}

IncidentLister = Callable[[], list[dict[str, Any]]]


class DashboardSampler:
    """Feed a :class:`~service.core.history.DashboardHistory` from a :class:`DecisionEngine`.

    Parameters
    ----------
    engine
        The service's engine (windows, champions, forecasts).
    history
        Where points, bands and outcomes go.
    audit
        The executor's audit trail, for outcomes and alerts; ``None`` skips them.
    incidents
        Lists the open incidents; ``None`` skips them.
    horizon
        Minutes of forecast kept ahead of the newest point.
    registry
        Where the forecast gauge is registered (the service's own registry).
    """

    def __init__(
        self,
        engine: DecisionEngine,
        history: DashboardHistory,
        *,
        audit: AuditTrail | None = None,
        incidents: IncidentLister | None = None,
        horizon: int = 30,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.engine = engine
        self.history = history
        self.audit = audit
        self.incidents = incidents
        self.horizon = horizon
        self._audit_since: datetime | None = None
        self.samples = 0  # passes made
        self.gauge = Gauge(
            FORECAST_METRIC,
            "Forecast of requests per minute for the next minute: quantile 0.5 is the forecaster's "
            "centre, 0.1 and 0.9 bound its 80 % band",
            ["module", "quantile"],
            registry=registry,
        )
        self.latest = {
            "replicas": Gauge(
                "nexus_module_replicas",
                "Replicas of the module in its newest decision or metric window",
                ["module"],
                registry=registry,
            ),
            "capacity": Gauge(
                "nexus_capacity_requests_per_min",
                "Requests per minute the module's replicas serve at target utilisation",
                ["module"],
                registry=registry,
            ),
            "anomaly": Gauge(
                "nexus_anomaly_score",
                "The anomaly score of the module's newest decision",
                ["module"],
                registry=registry,
            ),
        }
        for profile in engine.catalog.modules:
            history.set_profile(
                profile.name, profile.capacity_rpm_per_replica, profile.target_utilisation
            )

    def sample(self) -> None:
        """One pass over every catalog module (errors are logged per part, never raised)."""
        self.samples += 1
        names = list(self.engine.catalog.names)
        try:
            windows = self.engine.read_windows(names)
        except NexusError as exc:
            log.warning("dashboard.windows_unavailable", error=str(exc))
            windows = {}
        for name, window in windows.items():
            try:
                if self._add_minutes(name, window):
                    self._forecast(name, window)
            except NexusError as exc:
                log.warning("dashboard.sample_failed", module=name, error=str(exc))
            for key, value in self.history.latest(name).items():
                if value is not None:
                    self.latest[key].labels(name).set(value)
        self._read_audit()
        if self.incidents is not None:
            try:
                self.history.set_incidents(self.incidents())
            except (NexusError, OSError) as exc:
                log.warning("dashboard.incidents_unavailable", error=str(exc))

    def _add_minutes(self, name: str, window: Any) -> bool:
        last = self.history.last_time(name)
        demand = window.field("requests_per_min")
        replicas = list(window.replicas) or [math.nan] * len(window)
        added = False
        for at, value, running in zip(window.timestamps, demand, replicas, strict=True):
            t = epoch(at)
            if last is not None and t <= last:
                continue
            self.history.add_point(
                name,
                t,
                value if math.isfinite(value) else None,
                replicas=running if math.isfinite(running) else None,
            )
            last, added = t, True
        return added

    def _forecast(self, name: str, window: Any) -> None:
        bundle = self.engine.champions.get(name)
        if bundle is None or "requests_per_min" not in bundle.forecasters:
            return
        frame = self.engine.forecast_frame(bundle, "requests_per_min", window, self.horizon, (80,))
        times = [epoch(ts) for ts in pd.to_datetime(frame["ds"], utc=True)]
        self.history.set_forecast(
            name,
            times,
            frame["mean"].astype(float).tolist(),
            frame["lo-80"].astype(float).tolist(),
            frame["hi-80"].astype(float).tolist(),
        )
        for quantile, column in QUANTILES:
            self.gauge.labels(name, quantile).set(float(frame[column].iloc[0]))

    def _read_audit(self) -> None:
        if self.audit is None:
            return
        now = self.engine.clock()  # the service's time (tests and replays pass their own)
        since = self._audit_since or now - timedelta(hours=24)
        try:
            entries = self.audit.since(since)
        except (NexusError, OSError, ValueError) as exc:
            log.warning("dashboard.audit_unavailable", error=str(exc))
            return
        for entry in entries:
            if self._audit_since is not None and entry.at <= self._audit_since:
                continue
            at = entry.at.timestamp()
            if entry.event in _OUTCOMES and entry.action == "hold":
                continue  # holding is no event on the chart
            if entry.event in _OUTCOMES and entry.module and entry.action:
                detail = entry.reason if entry.reason != "ok" else entry.detail
                self.history.mark_outcome(
                    entry.module, entry.action, at, _OUTCOMES[entry.event], detail
                )
            elif entry.event in _ALERTS:
                titles = {lang: problem_title(entry.reason, lang) for lang in ("pt", "en")}
                sent = _ALERTS[entry.event]
                note = AlertNote(at, entry.module, entry.reason, entry.detail, sent, titles)
                self.history.add_alert(note)
        if entries:
            self._audit_since = max(e.at for e in entries)
        elif self._audit_since is None:
            self._audit_since = since


def open_incidents(root: Any) -> IncidentLister:
    """A lister of the open incidents in the crisis store under ``root``."""
    from nexus_ml.crisis.store import IncidentStore

    store = IncidentStore(root)

    def listing() -> list[dict[str, Any]]:
        return [
            {
                "id": m.id,
                "module": m.module,
                "error_type": str(m.error_type),
                "started_at": m.started_at.timestamp(),
            }
            for m in store.manifests()
            if m.is_open
        ]

    return listing
