"""The audit trail: every decision received and every action taken or skipped, with its reason.

Two stores with one interface: PostgreSQL (table ``nexus_audit.events``) for production and a
JSON-lines file for the embedded default. Every entry passes through a :class:`Redactor`, so
secrets (bot token, API token, DSN password) never reach the trail.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import Field

from nexus_ml.domain.base import Frozen
from nexus_ml.logs import get_logger
from nexus_ml.redact import MASK as MASK
from nexus_ml.redact import dsn_password as _dsn_password
from nexus_ml.redact import redact

log = get_logger(__name__)


class AuditEntry(Frozen):
    """One line of the trail."""

    at: datetime
    event: str  # decision_received | action_taken | action_skipped | action_failed | ...
    module: str = ""
    action: str = ""
    reason: str = ""
    detail: str = ""
    executor: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


class Redactor:
    """Replace every occurrence of the given secrets by ``***`` in strings and nested data."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        # Longest first, so a secret containing another is masked whole; very short values
        # (an empty password) would mask random text and are ignored.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def text(self, value: str) -> str:
        return redact(value, self._secrets)

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def entry(self, entry: AuditEntry) -> AuditEntry:
        return AuditEntry.model_validate(self.data(entry.model_dump(mode="json")))


def dsn_password(dsn: str) -> str | None:
    """The password inside a PostgreSQL URL or key/value DSN (to redact it), if any."""
    return _dsn_password(dsn)


class AuditTrail(Protocol):
    def write(self, entry: AuditEntry) -> None: ...

    def since(self, start: datetime) -> list[AuditEntry]: ...


class JsonlAudit:
    """The trail as a JSON-lines file (one entry per line, append-only)."""

    def __init__(self, path: Path, *, redactor: Redactor | None = None) -> None:
        self.path = path
        self._redactor = redactor or Redactor(())
        self._lock = threading.Lock()

    def write(self, entry: AuditEntry) -> None:
        line = self._redactor.entry(entry).model_dump_json()
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")

    def since(self, start: datetime) -> list[AuditEntry]:
        if not self.path.exists():
            return []
        entries = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                entry = AuditEntry.model_validate_json(line)
                if entry.at >= start:
                    entries.append(entry)
        return entries


_DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.events (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    event text NOT NULL,
    module text NOT NULL DEFAULT '',
    action text NOT NULL DEFAULT '',
    reason text NOT NULL DEFAULT '',
    detail text NOT NULL DEFAULT '',
    executor text NOT NULL DEFAULT '',
    data jsonb NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS events_at ON {schema}.events (at);
"""

_COLUMNS = ("at", "event", "module", "action", "reason", "detail", "executor", "data")


class PostgresAudit:
    """The trail in PostgreSQL; one short autocommit connection per call keeps it robust to
    database restarts (the executor runs for months)."""

    def __init__(self, dsn: str, *, schema: str = "nexus_audit", redactor: Redactor | None = None):
        if not schema.isidentifier():
            raise ValueError(f"schema must be an identifier, got {schema!r}")
        self._dsn = dsn
        self._schema = schema
        self._redactor = redactor or Redactor((dsn_password(dsn),))
        self._ready = False

    def _connect(self) -> Any:
        import psycopg

        from nexus_ml.errors import NexusError

        try:
            conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            raise NexusError(
                f"audit database unreachable: {self._redactor.text(str(exc))}"
            ) from None
        if not self._ready:
            # Two executors (or threads) starting together would race on CREATE SCHEMA IF NOT
            # EXISTS; a transaction-scoped advisory lock serialises the DDL.
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._schema,))
                conn.execute(_DDL.format(schema=self._schema))
            self._ready = True
        return conn

    def write(self, entry: AuditEntry) -> None:
        from psycopg.types.json import Jsonb

        row = self._redactor.entry(entry).model_dump()
        values = [Jsonb(row[c]) if c == "data" else row[c] for c in _COLUMNS]
        with self._connect() as conn:
            conn.execute(
                f"INSERT INTO {self._schema}.events ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join(['%s'] * len(_COLUMNS))})",
                values,
            )

    def since(self, start: datetime) -> list[AuditEntry]:
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM {self._schema}.events "
                "WHERE at >= %s ORDER BY at, id",
                (start,),
            ).fetchall()
        return [AuditEntry(**dict(zip(_COLUMNS, row, strict=True))) for row in rows]


class MemoryAudit:
    """The trail in a list (tests, the demo's report)."""

    def __init__(self, *, redactor: Redactor | None = None) -> None:
        self.entries: list[AuditEntry] = []
        self._redactor = redactor or Redactor(())
        self._lock = threading.Lock()

    def write(self, entry: AuditEntry) -> None:
        with self._lock:
            self.entries.append(self._redactor.entry(entry))

    def since(self, start: datetime) -> list[AuditEntry]:
        return [e for e in self.entries if e.at >= start]


def utcnow() -> datetime:
    return datetime.now(UTC)


def dumps(value: Any) -> str:
    return json.dumps(value, default=str, sort_keys=True)
