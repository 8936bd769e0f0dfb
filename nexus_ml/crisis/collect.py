"""Collect one incident: its metric window and the evidence its collection plan asks for.

The result, a :class:`CollectedIncident`, is what the store keeps on disk and what the report
is built from. Secrets never enter it: every piece of evidence passes through a
:class:`~nexus_ml.execute.audit.Redactor`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pydantic import Field

from nexus_ml.catalog import Catalog
from nexus_ml.crisis.collection import (
    CollectionPlan,
    EvidenceKind,
    Window,
    collection_window,
)
from nexus_ml.domain.base import Frozen
from nexus_ml.domain.crisis import ErrorType
from nexus_ml.errors import DataQualityError, NexusError
from nexus_ml.execute.audit import AuditEntry, AuditTrail, Redactor
from nexus_ml.ingest.source import MetricSource
from nexus_ml.logs import get_logger

log = get_logger(__name__)

_ID_SAFE = re.compile(r"[^a-z0-9]+")
_USERINFO = re.compile(r"//[^/@\s]+@")
#: Keys of audit ``data`` that carry a deployed version (written by deploy jobs or rollbacks).
_VERSION_KEYS = ("version", "image")


class IncidentManifest(Frozen):
    """What is stored about one incident, besides its metrics and evidence files."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
    module: str
    error_type: ErrorType
    started_at: datetime
    ended_at: datetime | None = None
    collected_at: datetime
    window_start: datetime
    window_end: datetime
    step_s: int = Field(ge=1)
    metrics: tuple[str, ...]
    reference_days: int = 0  # 0: no seasonal reference stored
    modules: tuple[str, ...]  # the module first, then the dependencies collected with it
    evidence: tuple[str, ...] = ()
    retention_days: int = Field(ge=1, le=3650)
    source: str = ""

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    @property
    def expires_at(self) -> datetime | None:
        """When the retention period ends (``None`` while the incident is open)."""
        if self.ended_at is None:
            return None
        return self.ended_at + timedelta(days=self.retention_days)


@dataclass(frozen=True)
class CollectedIncident:
    """An incident's manifest, metric window (a metric frame) and evidence (JSON-able)."""

    manifest: IncidentManifest
    frame: pd.DataFrame
    evidence: dict[str, Any] = field(default_factory=dict)
    #: The module's metrics ``reference_days`` earlier, timestamps moved onto the window.
    reference: pd.DataFrame | None = None

    def module_frame(self, module: str | None = None) -> pd.DataFrame:
        """The rows of ``module`` (the incident's module by default), indexed by timestamp."""
        name = module or self.manifest.module
        rows = self.frame[self.frame["module"] == name]
        return rows.set_index("timestamp").sort_index()

    def reference_frame(self) -> pd.DataFrame | None:
        """The seasonal reference of the module, indexed by (moved) timestamp, if stored."""
        if self.reference is None:
            return None
        return self.reference.set_index("timestamp").sort_index()


def incident_id(module: str, error_type: ErrorType, started_at: datetime) -> str:
    """A readable id: ``20260302T1100Z-crm-memory-leak``."""
    short = _ID_SAFE.sub("-", module.removeprefix("nexus-").lower()).strip("-")
    kind = error_type.value.lower().replace("_", "-")
    return f"{started_at.astimezone(UTC):%Y%m%dT%H%MZ}-{short}-{kind}"


def audit_evidence(
    entries: Sequence[AuditEntry], modules: Sequence[str], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Audit entries about ``modules`` within ``[start, end]``, oldest first, as JSON data."""
    names = set(modules) | {m.removeprefix("nexus-") for m in modules}
    kept = [e for e in entries if start <= e.at <= end and e.module in names]
    return [e.model_dump(mode="json") for e in sorted(kept, key=lambda e: e.at)]


def deploy_versions(audit: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Version changes found in audit entries (``data.version`` / ``data.image``)."""
    found = []
    for entry in audit:
        data = entry.get("data") or {}
        for key in _VERSION_KEYS:
            if isinstance(data.get(key), str | int):
                found.append(
                    {
                        "at": entry["at"],
                        "module": entry["module"],
                        "event": entry["event"],
                        "version": str(data[key]),
                        "previous": str(data.get(f"previous_{key}", "")),
                    }
                )
                break
    return found


def dependency_links(catalog: Catalog, module: str) -> dict[str, list[str]]:
    """The modules ``module`` calls and the modules that call it, from the catalog."""
    profile = catalog.get(module)
    return {
        "depends_on": list(profile.depends_on),
        "dependents": list(catalog.dependents_of(profile.name)),
    }


def collect_incident(
    *,
    module: str,
    error_type: ErrorType,
    started_at: datetime,
    ended_at: datetime | None,
    plan: CollectionPlan,
    source: MetricSource,
    catalog: Catalog,
    now: datetime,
    audit: AuditTrail | None = None,
    redactor: Redactor | None = None,
    source_name: str = "",
    incident_id_: str | None = None,
) -> CollectedIncident:
    """Fetch the window and evidence of one incident as ``plan`` says.

    Parameters
    ----------
    module
        Full or short module name (checked against ``catalog``).
    error_type, started_at, ended_at
        The incident; ``ended_at`` ``None`` means it is still open.
    plan
        The collection plan of ``error_type``.
    source
        Where metrics come from (Prometheus, a frame on disk).
    catalog
        Module facts: full names and dependency links.
    now
        The current instant (injected so tests control the clock).
    audit
        The executor's trail, read for the ``audit`` and ``deploy_versions`` evidence.
    redactor
        Masks secrets in evidence and in ``source_name``.

    Raises
    ------
    DataQualityError
        When the source has no value at all for the module in the window.
    """
    redactor = redactor or Redactor(())
    # A URL may carry credentials (http://user:pass@host): never store them.
    safe_source = _USERINFO.sub("//***@", redactor.text(source_name))
    name = catalog.get(module).name
    window = collection_window(plan, started_at, ended_at, now)
    links = dependency_links(catalog, name)
    with_deps = EvidenceKind.DEPENDENCIES in plan.evidence
    modules = (name, *links["depends_on"]) if with_deps else (name,)
    fetched = source.fetch(list(modules), window.start, window.end, window.step)
    frame = fetched.frame[["module", "timestamp", *plan.metrics]]
    own = frame.loc[frame["module"] == name, list(plan.metrics)].to_numpy(dtype=float)
    if own.size == 0 or not np.isfinite(own).any():
        raise DataQualityError(
            f"no metrics for {name} between {window.start.isoformat()} and "
            f"{window.end.isoformat()} in {safe_source or 'the source'}"
        )
    evidence: dict[str, Any] = {
        "quality": {m: {"min_coverage": fetched.quality.min_coverage(m)} for m in modules},
    }
    audit_rows: list[dict[str, Any]] = []
    if audit is not None and {EvidenceKind.AUDIT, EvidenceKind.DEPLOY_VERSIONS} & set(
        plan.evidence
    ):
        try:
            entries = audit.since(window.start)
        except NexusError as exc:  # the metrics are worth keeping even without the trail
            log.warning("incident.audit_unavailable", module=name, error=str(exc))
            evidence["audit_unavailable"] = str(exc)
            entries = []
        audit_rows = audit_evidence(entries, [name], window.start, window.end)
    if EvidenceKind.AUDIT in plan.evidence:
        evidence["audit"] = audit_rows
    if EvidenceKind.DEPLOY_VERSIONS in plan.evidence:
        evidence["deploy_versions"] = deploy_versions(audit_rows)
    if with_deps:
        evidence["dependencies"] = links
    if EvidenceKind.CONTAINER_LOGS in plan.evidence:
        evidence["container_logs"] = {
            "collected": False,
            "note": "no log backend configured; attach `docker service logs` output by hand",
        }
    reference = _reference(source, name, plan, window) if plan.reference_days else None
    evidence["reference"] = {"days": plan.reference_days, "available": reference is not None}
    manifest = IncidentManifest(
        id=incident_id_ or incident_id(name, error_type, started_at),
        module=name,
        error_type=error_type,
        started_at=started_at,
        ended_at=ended_at,
        collected_at=now,
        window_start=window.start,
        window_end=window.end,
        step_s=plan.step_s,
        metrics=plan.metrics,
        reference_days=plan.reference_days if reference is not None else 0,
        modules=modules,
        evidence=tuple(k.value for k in plan.evidence),
        retention_days=plan.retention_days,
        source=safe_source,
    )
    return CollectedIncident(
        manifest=manifest,
        frame=frame.reset_index(drop=True),
        evidence=redactor.data(evidence),
        reference=reference,
    )


def _reference(
    source: MetricSource, module: str, plan: CollectionPlan, window: Window
) -> pd.DataFrame | None:
    """The same window ``plan.reference_days`` earlier, moved forward onto the window (``None``
    when the source holds nothing there, e.g. a short history)."""
    offset = timedelta(days=plan.reference_days)
    fetched = source.fetch([module], window.start - offset, window.end - offset, window.step)
    frame = fetched.frame[["module", "timestamp", *plan.metrics]]
    if not np.isfinite(frame[list(plan.metrics)].to_numpy(dtype=float)).any():
        return None
    return frame.assign(timestamp=frame["timestamp"] + offset).reset_index(drop=True)
