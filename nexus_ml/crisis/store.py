"""The crisis data store: one folder per incident, kept for its retention period.

Layout under the store's root (``<state_dir>/incidents`` by default)::

    <id>/manifest.json     the IncidentManifest
    <id>/metrics.parquet   the metric window (a metric frame restricted to the plan's fields)
    <id>/evidence.json     audit entries, deploy versions, dependency links, log placeholder
    <id>/reference.parquet the same window some days earlier (the seasonal "normal"), if any

An incident is written to a hidden temporary folder and renamed into place, so a reader never
sees half an incident. :meth:`IncidentStore.purge` deletes incidents whose retention period
has ended, and never an open one.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from nexus_ml.crisis.collect import CollectedIncident, IncidentManifest
from nexus_ml.errors import InputError, NexusError, NotFoundError
from nexus_ml.logs import get_logger

log = get_logger(__name__)

MANIFEST = "manifest.json"
METRICS = "metrics.parquet"
EVIDENCE = "evidence.json"
REFERENCE = "reference.parquet"
_VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class IncidentStore:
    """Incidents as folders under ``root``.

    Parameters
    ----------
    root
        The store's folder (created on first write).
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def _folder(self, incident_id: str) -> Path:
        # The id becomes a path: refuse anything that could leave the root.
        if not _VALID_ID.match(incident_id) or incident_id in (".", ".."):
            raise InputError(f"not a valid incident id: {incident_id!r}")
        return self.root / incident_id

    def _free_id(self, wanted: str) -> str:
        candidate, n = wanted, 1
        while (self.root / candidate).exists():
            n += 1
            candidate = f"{wanted}-{n}"
        return candidate

    def save(self, incident: CollectedIncident) -> IncidentManifest:
        """Store ``incident``; its id gets a ``-2``, ``-3``… suffix if taken. Returns the
        manifest as stored."""
        self.root.mkdir(parents=True, exist_ok=True)
        manifest = incident.manifest
        tmp = self.root / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            incident.frame.to_parquet(tmp / METRICS, index=False)
            if incident.reference is not None:
                incident.reference.to_parquet(tmp / REFERENCE, index=False)
            (tmp / EVIDENCE).write_text(
                json.dumps(incident.evidence, indent=2, sort_keys=True, default=str),
                encoding="utf-8",
            )
            while True:
                manifest = manifest.model_copy(update={"id": self._free_id(incident.manifest.id)})
                (tmp / MANIFEST).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
                target = self._folder(manifest.id)
                try:
                    tmp.rename(target)
                    break
                except OSError:
                    # Another collector took the id between the check and the rename: retry.
                    if not target.exists():
                        raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        log.info("incident.stored", incident=manifest.id, root=self.root)
        return manifest

    def manifest(self, incident_id: str) -> IncidentManifest:
        """The manifest of ``incident_id``.

        Raises
        ------
        NotFoundError
            No such incident.
        """
        path = self._folder(incident_id) / MANIFEST
        try:
            manifest = IncidentManifest.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFoundError(f"no incident {incident_id!r} in {self.root}") from None
        except (OSError, ValidationError, UnicodeDecodeError) as exc:
            reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise InputError(
                f"incident {incident_id!r}: damaged folder, unreadable manifest ({reason})"
            ) from exc
        if manifest.id != incident_id:
            # a copied or renamed folder: trusting the id inside would make purge and close
            # act on another incident's folder
            raise InputError(
                f"incident {incident_id!r}: its manifest says {manifest.id!r}; the folder name "
                "is the id, so this folder is skipped (rename it or fix the manifest)"
            )
        return manifest

    def load(self, incident_id: str) -> CollectedIncident:
        """The whole incident: manifest, metric window and evidence."""
        manifest = self.manifest(incident_id)
        folder = self._folder(incident_id)
        try:
            frame = pd.read_parquet(folder / METRICS)
            evidence = json.loads((folder / EVIDENCE).read_text(encoding="utf-8"))
            ref_path = folder / REFERENCE
            reference = pd.read_parquet(ref_path) if ref_path.is_file() else None
        except (OSError, ValueError) as exc:  # pyarrow's and json's errors are ValueErrors
            raise InputError(f"incident {incident_id!r}: damaged folder ({exc})") from exc
        return CollectedIncident(
            manifest=manifest, frame=frame, evidence=evidence, reference=reference
        )

    def folder(self, incident_id: str) -> Path:
        """The folder of an existing incident (reports are written next to its data)."""
        self.manifest(incident_id)
        return self._folder(incident_id)

    def manifests(self) -> list[IncidentManifest]:
        """Every stored incident, oldest start first (unreadable folders are logged, skipped)."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            if folder.name.startswith(".") or not (folder / MANIFEST).is_file():
                continue
            try:
                found.append(self.manifest(folder.name))
            except NexusError as exc:
                log.warning("incident.unreadable_skipped", folder=folder, error=str(exc))
        return sorted(found, key=lambda m: (m.started_at, m.id))

    def close(self, incident_id: str, ended_at: datetime) -> IncidentManifest:
        """Mark an open incident as ended at ``ended_at`` (its retention clock starts).

        Raises
        ------
        InputError
            When ``ended_at`` is before the incident's start.
        """
        manifest = self.manifest(incident_id)
        if ended_at < manifest.started_at:
            raise InputError(
                f"end {ended_at.isoformat()} is before the start "
                f"{manifest.started_at.isoformat()} of incident {incident_id!r}"
            )
        closed = manifest.model_copy(update={"ended_at": ended_at})
        path = self._folder(incident_id) / MANIFEST
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(closed.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(path)
        return closed

    def expired(self, now: datetime) -> list[IncidentManifest]:
        """Closed incidents whose retention period ended at or before ``now``."""
        return [m for m in self.manifests() if m.expires_at is not None and m.expires_at <= now]

    def purge(self, now: datetime) -> list[str]:
        """Delete every expired incident; open incidents are never deleted. Returns the ids."""
        removed = []
        for manifest in self.expired(now):  # manifest.id is its folder's name (see manifest)
            shutil.rmtree(self._folder(manifest.id))
            log.info("incident.purged", incident=manifest.id, expired_at=manifest.expires_at)
            removed.append(manifest.id)
        return removed


def with_id(incident: CollectedIncident, manifest: IncidentManifest) -> CollectedIncident:
    """``incident`` carrying ``manifest`` (e.g. the one :meth:`IncidentStore.save` returned)."""
    return replace(incident, manifest=manifest)
