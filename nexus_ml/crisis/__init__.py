"""Crisis data and incident reports.

- :mod:`~nexus_ml.crisis.collection` — per error type, what to collect and how long to keep it
  (bundled ``collection.yaml``, overridable).
- :mod:`~nexus_ml.crisis.collect` — fetch an incident's metric window and evidence.
- :mod:`~nexus_ml.crisis.store` — a folder per incident, purged after its retention period.
- :mod:`~nexus_ml.crisis.report` — the incident report (Markdown, pt or en) and its plot.
- :mod:`~nexus_ml.crisis.rules` — the seed's rules as data (``rules.yaml``): per error type what
  to collect and ignore, storage limit, severity; per data category retention and sampling.
- :mod:`~nexus_ml.crisis.records` / :mod:`~nexus_ml.crisis.records_pg` — incidents and their
  category rows (files or PostgreSQL), purged per category.
- :mod:`~nexus_ml.crisis.automatic` — incidents opened, grown and closed from the executor's
  events (:mod:`nexus_ml.execute.incidents`), with the full report
  (:mod:`~nexus_ml.crisis.full_report`, :mod:`~nexus_ml.crisis.full_report_render`).
- :mod:`~nexus_ml.crisis.swarm_evidence`, :mod:`~nexus_ml.crisis.gather` — Swarm logs and tasks,
  and the rows each category gets; :mod:`~nexus_ml.crisis.alert_sink` — Alertmanager's seam.
"""

from nexus_ml.crisis.cause import Finding, probable_cause
from nexus_ml.crisis.collect import CollectedIncident, IncidentManifest, collect_incident
from nexus_ml.crisis.collection import (
    CollectionPlan,
    CollectionPlans,
    EvidenceKind,
    collection_window,
    load_collection_plans,
    parse_error_type,
)
from nexus_ml.crisis.report import IncidentReport, build_report, plot_key_metrics, render_markdown
from nexus_ml.crisis.store import IncidentStore

__all__ = [
    "CollectedIncident",
    "CollectionPlan",
    "CollectionPlans",
    "EvidenceKind",
    "Finding",
    "IncidentManifest",
    "IncidentReport",
    "IncidentStore",
    "build_report",
    "collect_incident",
    "collection_window",
    "load_collection_plans",
    "parse_error_type",
    "plot_key_metrics",
    "probable_cause",
    "render_markdown",
]
