"""Assemble the automatic crisis collection from :class:`~nexus_ml.settings.Settings`.

The record store is PostgreSQL when ``NEXUS_PG_DSN`` is set, files under the state directory
otherwise; metrics come from Prometheus when ``NEXUS_PROMETHEUS_URL`` is set; Swarm's logs and
tasks when a Docker client is given (the executor's Swarm backend passes its own).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from nexus_ml.catalog import Catalog
from nexus_ml.crisis.automatic import AutoConfig, AutoIncidents
from nexus_ml.crisis.record_stores import record_store_for
from nexus_ml.crisis.rules import load_rules
from nexus_ml.execute.audit import AuditTrail, Redactor
from nexus_ml.ingest.source import MetricSource

if TYPE_CHECKING:
    from nexus_ml.execute.incidents import IncidentHook
    from nexus_ml.settings import Settings


def reports_dir(settings: Settings) -> Any:
    """Where full crisis reports are written (``<state_dir>/crisis-reports/<id>/``)."""
    return settings.state_dir / "crisis-reports"


def auto_incidents_for(
    settings: Settings,
    *,
    catalog: Catalog,
    audit: AuditTrail | None = None,
    docker_client: Any = None,
    service_prefix: str = "",
    source: MetricSource | None = None,
) -> AutoIncidents:
    """The worker-side collection of ``settings``."""
    secrets = settings.secret_values()
    if source is None:
        from nexus_ml.ingest.factory import prometheus_source

        source = prometheus_source(settings)
    return AutoIncidents(
        store=record_store_for(settings),
        rules=load_rules(settings.crisis_rules_path),
        catalog=catalog,
        report_dir=reports_dir(settings),
        config=AutoConfig(
            healthy_for=timedelta(minutes=settings.crisis_healthy_min),
            revenue_per_transaction=settings.crisis_revenue_per_transaction,
            language=settings.language,
            report_url=settings.crisis_report_url,
        ),
        source=source,
        docker_client=docker_client,
        service_prefix=service_prefix,
        audit=audit,
        redactor=Redactor(secrets),
        secrets=secrets,
    )


def incident_hook_for(
    settings: Settings,
    *,
    catalog: Catalog,
    audit: AuditTrail | None = None,
    docker_client: Any = None,
    service_prefix: str = "",
) -> IncidentHook:
    """The executor's incident hook (started: its worker thread runs)."""
    from nexus_ml.execute.incidents import IncidentHook

    auto = auto_incidents_for(
        settings,
        catalog=catalog,
        audit=audit,
        docker_client=docker_client,
        service_prefix=service_prefix,
    )
    return IncidentHook(auto).start()
