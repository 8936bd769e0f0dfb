"""The crisis record store: incidents (open or closed) and their rows, one data category each.

Retention is per category (:mod:`nexus_ml.crisis.rules`): :meth:`RecordStore.purge` deletes the
rows of a category once their incident has been closed for that category's retention period, and
never a row of an open incident. Two stores share the :class:`RecordStore` protocol: files (the
embedded default, :class:`FileRecordStore`) and PostgreSQL (:mod:`nexus_ml.crisis.records_pg`).
:func:`record_store_for` picks one from the settings.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import Field

from nexus_ml.domain.base import Frozen
from nexus_ml.errors import InputError, NotFoundError

if TYPE_CHECKING:
    pass

_VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


class IncidentRecord(Frozen):
    """One incident as the executor (or Alertmanager) opened it."""

    id: str = Field(pattern=_VALID_ID.pattern)
    module: str
    error_type: str  # a key of the rules' error_types
    severity: str
    source: str  # executor | alertmanager | cli
    trigger: str = ""  # what opened it: "rollback skipped: cooldown", "alert HighErrorRate"
    opened_at: datetime
    closed_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class Row(Frozen):
    at: datetime
    key: str | None = None
    payload: dict[str, Any]


class RecordStore(Protocol):
    """Incidents and their category rows."""

    def open_incident(self, incident: IncidentRecord) -> IncidentRecord: ...

    def close_incident(self, incident_id: str, at: datetime) -> IncidentRecord: ...

    def incident(self, incident_id: str) -> IncidentRecord: ...

    def incidents(self) -> list[IncidentRecord]: ...

    def open_for(self, module: str) -> IncidentRecord | None: ...

    def add(self, incident_id: str, category: str, rows: Sequence[Row]) -> int: ...

    def rows(self, incident_id: str, category: str) -> list[Row]: ...

    def keys(self, incident_id: str, category: str) -> set[str]: ...

    def counts(self, incident_id: str) -> dict[str, int]: ...

    def bytes_used(self, incident_id: str) -> int: ...

    def purge(self, now: datetime, retention_days: Mapping[str, int]) -> dict[str, int]: ...


def check_id(incident_id: str) -> str:
    if not _VALID_ID.match(incident_id) or incident_id in (".", ".."):
        raise InputError(f"not a valid incident id: {incident_id!r}")
    return incident_id


def check_category(category: str) -> str:
    if not _CATEGORY.match(category):
        raise InputError(f"not a valid data category: {category!r}")
    return category


def expired(incident: IncidentRecord, days: int, now: datetime) -> bool:
    """Whether a category kept ``days`` days is past its retention for ``incident``."""
    return incident.closed_at is not None and incident.closed_at + timedelta(days=days) <= now


class FileRecordStore:
    """Incidents as folders: ``<root>/<id>/incident.json`` and ``<id>/<category>.jsonl``.

    One process writes (the executor's collection worker); a lock serialises its threads.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.RLock()

    def _dir(self, incident_id: str) -> Path:
        return self.root / check_id(incident_id)

    def _write_incident(self, incident: IncidentRecord) -> None:
        folder = self._dir(incident.id)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "incident.json.tmp"
        tmp.write_text(incident.model_dump_json(indent=2), encoding="utf-8")
        tmp.replace(folder / "incident.json")

    def open_incident(self, incident: IncidentRecord) -> IncidentRecord:
        with self._lock:
            base, n, wanted = incident.id, 1, incident.id
            while (self.root / wanted).exists():
                n += 1
                wanted = f"{base}-{n}"
            stored = incident.model_copy(update={"id": wanted})
            self._write_incident(stored)
            return stored

    def close_incident(self, incident_id: str, at: datetime) -> IncidentRecord:
        with self._lock:
            current = self.incident(incident_id)
            if at < current.opened_at:
                raise InputError(
                    f"end {at.isoformat()} is before the start {current.opened_at.isoformat()} "
                    f"of incident {incident_id!r}"
                )
            closed = current.model_copy(update={"closed_at": at})
            self._write_incident(closed)
            return closed

    def incident(self, incident_id: str) -> IncidentRecord:
        path = self._dir(incident_id) / "incident.json"
        try:
            return IncidentRecord.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFoundError(f"no incident {incident_id!r} in {self.root}") from None

    def incidents(self) -> list[IncidentRecord]:
        if not self.root.is_dir():
            return []
        found = [
            self.incident(p.name)
            for p in self.root.iterdir()
            if p.is_dir() and (p / "incident.json").is_file()
        ]
        return sorted(found, key=lambda i: (i.opened_at, i.id))

    def open_for(self, module: str) -> IncidentRecord | None:
        open_ = [i for i in self.incidents() if i.module == module and i.is_open]
        return open_[-1] if open_ else None

    def _file(self, incident_id: str, category: str) -> Path:
        return self._dir(incident_id) / f"{check_category(category)}.jsonl"

    def add(self, incident_id: str, category: str, rows: Sequence[Row]) -> int:
        """Append ``rows``; a row whose key is already stored is skipped. Returns how many
        were added."""
        with self._lock:
            self.incident(incident_id)
            seen = self.keys(incident_id, category)
            fresh = []
            for row in rows:
                if row.key is not None:
                    if row.key in seen:
                        continue
                    seen.add(row.key)
                fresh.append(row.model_dump_json())
            if fresh:
                with self._file(incident_id, category).open("a", encoding="utf-8") as fh:
                    fh.write("\n".join(fresh) + "\n")
            return len(fresh)

    def rows(self, incident_id: str, category: str) -> list[Row]:
        path = self._file(incident_id, category)
        if not path.is_file():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [Row.model_validate_json(line) for line in lines if line.strip()]

    def keys(self, incident_id: str, category: str) -> set[str]:
        return {r.key for r in self.rows(incident_id, category) if r.key is not None}

    def counts(self, incident_id: str) -> dict[str, int]:
        folder = self._dir(incident_id)
        return {
            p.stem: sum(1 for line in p.read_text(encoding="utf-8").splitlines() if line.strip())
            for p in sorted(folder.glob("*.jsonl"))
        }

    def bytes_used(self, incident_id: str) -> int:
        """The payloads' JSON size (what the storage limit counts, as in PostgreSQL)."""
        return sum(
            len(json.dumps(row.payload, default=str))
            for path in self._dir(incident_id).glob("*.jsonl")
            for row in self.rows(incident_id, path.stem)
        )

    def purge(self, now: datetime, retention_days: Mapping[str, int]) -> dict[str, int]:
        """Delete each closed incident's categories past their retention; an incident with no
        data left is removed whole. Returns the rows deleted per category."""
        deleted: dict[str, int] = {}
        with self._lock:
            for incident in self.incidents():
                if incident.is_open:
                    continue
                folder = self._dir(incident.id)
                for path in sorted(folder.glob("*.jsonl")):
                    days = retention_days.get(path.stem)
                    if days is None or not expired(incident, days, now):
                        continue  # an unknown category is kept: never delete on a guess
                    n = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line)
                    path.unlink()
                    deleted[path.stem] = deleted.get(path.stem, 0) + n
                if (
                    not any(folder.glob("*.jsonl"))
                    and retention_days
                    and all(expired(incident, d, now) for d in retention_days.values())
                ):
                    shutil.rmtree(folder)
        return deleted
