"""Crisis data and incident reports.

- :mod:`~nexus_ml.crisis.collection` — per error type, what to collect and how long to keep it
  (bundled ``collection.yaml``, overridable).
- :mod:`~nexus_ml.crisis.collect` — fetch an incident's metric window and evidence.
- :mod:`~nexus_ml.crisis.store` — a folder per incident, purged after its retention period.
- :mod:`~nexus_ml.crisis.report` — the incident report (Markdown, pt or en) and its plot.
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
