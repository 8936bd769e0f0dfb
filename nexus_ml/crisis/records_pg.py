"""The crisis record store in PostgreSQL (schema ``nexus_crisis``), behind
:class:`~nexus_ml.crisis.records.RecordStore`.

One short autocommit connection per call, like the audit trail: the executor runs for months
and the database may restart under it. Purge is one ``DELETE`` per category, joined to the
incidents table, so an open incident's rows are never touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from nexus_ml.crisis.records import IncidentRecord, Row, check_category, check_id
from nexus_ml.errors import InputError, NexusError, NotFoundError
from nexus_ml.redact import dsn_password, redact

_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.incidents (
    id text PRIMARY KEY,
    module text NOT NULL,
    error_type text NOT NULL,
    severity text NOT NULL,
    source text NOT NULL,
    trigger text NOT NULL DEFAULT '',
    opened_at timestamptz NOT NULL,
    closed_at timestamptz
);
CREATE TABLE IF NOT EXISTS {s}.records (
    id bigserial PRIMARY KEY,
    incident_id text NOT NULL REFERENCES {s}.incidents (id) ON DELETE CASCADE,
    category text NOT NULL,
    at timestamptz NOT NULL,
    key text,
    payload jsonb NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS records_unique_key
    ON {s}.records (incident_id, category, key) WHERE key IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_incident ON {s}.records (incident_id, category);
"""

_INC = ("id", "module", "error_type", "severity", "source", "trigger", "opened_at", "closed_at")


class PostgresRecordStore:
    """Incidents and rows in ``<schema>.incidents`` / ``<schema>.records``."""

    def __init__(self, dsn: str, *, schema: str = "nexus_crisis") -> None:
        if not schema.isidentifier():
            raise InputError(f"schema must be an identifier, got {schema!r}")
        self._dsn = dsn
        self._s = schema
        self._secret = dsn_password(dsn)
        self._ready = False

    def _connect(self) -> Any:
        import psycopg

        try:
            conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
        except psycopg.Error as exc:
            text = redact(str(exc), [self._secret])
            raise NexusError(f"crisis database unreachable: {text}") from None
        if not self._ready:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._s,))
                conn.execute(_DDL.format(s=self._s))
            self._ready = True
        return conn

    def open_incident(self, incident: IncidentRecord) -> IncidentRecord:
        row = incident.model_dump()
        with self._connect() as conn:
            base, n, wanted = incident.id, 1, incident.id
            while True:
                row["id"] = wanted
                cur = conn.execute(
                    f"INSERT INTO {self._s}.incidents ({', '.join(_INC)}) "
                    f"VALUES ({', '.join(['%s'] * len(_INC))}) ON CONFLICT (id) DO NOTHING",
                    [row[c] for c in _INC],
                )
                if cur.rowcount == 1:
                    return incident.model_copy(update={"id": wanted})
                n += 1
                wanted = f"{base}-{n}"

    def close_incident(self, incident_id: str, at: datetime) -> IncidentRecord:
        current = self.incident(incident_id)
        if at < current.opened_at:
            raise InputError(
                f"end {at.isoformat()} is before the start {current.opened_at.isoformat()} "
                f"of incident {incident_id!r}"
            )
        with self._connect() as conn:
            conn.execute(
                f"UPDATE {self._s}.incidents SET closed_at = %s WHERE id = %s", (at, incident_id)
            )
        return current.model_copy(update={"closed_at": at})

    def _select(self, where: str, args: Sequence[Any]) -> list[IncidentRecord]:
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT {', '.join(_INC)} FROM {self._s}.incidents {where} ORDER BY opened_at, id",
                args,
            ).fetchall()
        return [IncidentRecord(**dict(zip(_INC, r, strict=True))) for r in rows]

    def incident(self, incident_id: str) -> IncidentRecord:
        found = self._select("WHERE id = %s", (check_id(incident_id),))
        if not found:
            raise NotFoundError(f"no incident {incident_id!r} in the crisis database")
        return found[0]

    def incidents(self) -> list[IncidentRecord]:
        return self._select("", ())

    def open_for(self, module: str) -> IncidentRecord | None:
        found = self._select("WHERE module = %s AND closed_at IS NULL", (module,))
        return found[-1] if found else None

    def add(self, incident_id: str, category: str, rows: Sequence[Row]) -> int:
        from psycopg.types.json import Jsonb

        check_category(category)
        self.incident(incident_id)
        added = 0
        with self._connect() as conn, conn.cursor() as cur:
            for row in rows:
                cur.execute(
                    f"INSERT INTO {self._s}.records (incident_id, category, at, key, payload) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (incident_id, category, row.at, row.key, Jsonb(row.payload)),
                )
                added += cur.rowcount
        return added

    def rows(self, incident_id: str, category: str) -> list[Row]:
        with self._connect() as conn:
            found = conn.execute(
                f"SELECT at, key, payload FROM {self._s}.records "
                "WHERE incident_id = %s AND category = %s ORDER BY at, id",
                (incident_id, check_category(category)),
            ).fetchall()
        return [Row(at=at, key=key, payload=payload) for at, key, payload in found]

    def keys(self, incident_id: str, category: str) -> set[str]:
        return {r.key for r in self.rows(incident_id, category) if r.key is not None}

    def counts(self, incident_id: str) -> dict[str, int]:
        with self._connect() as conn:
            found = conn.execute(
                f"SELECT category, count(*) FROM {self._s}.records WHERE incident_id = %s "
                "GROUP BY category ORDER BY category",
                (incident_id,),
            ).fetchall()
        return {str(c): int(n) for c, n in found}

    def bytes_used(self, incident_id: str) -> int:
        with self._connect() as conn:
            (n,) = conn.execute(
                f"SELECT coalesce(sum(octet_length(payload::text)), 0) FROM {self._s}.records "
                "WHERE incident_id = %s",
                (incident_id,),
            ).fetchone()
        return int(n)

    def purge(self, now: datetime, retention_days: Mapping[str, int]) -> dict[str, int]:
        """Delete, per category, the rows of incidents closed for at least its retention."""
        deleted: dict[str, int] = {}
        with self._connect() as conn:
            for category, days in retention_days.items():
                cur = conn.execute(
                    f"DELETE FROM {self._s}.records r USING {self._s}.incidents i "
                    "WHERE r.incident_id = i.id AND r.category = %s "
                    "AND i.closed_at IS NOT NULL "
                    "AND i.closed_at + make_interval(days => %s) <= %s",
                    (check_category(category), days, now),
                )
                if cur.rowcount:
                    deleted[category] = cur.rowcount
            if retention_days:
                longest = max(retention_days.values())
                conn.execute(
                    f"DELETE FROM {self._s}.incidents i WHERE i.closed_at IS NOT NULL "
                    "AND i.closed_at + make_interval(days => %s) <= %s "
                    f"AND NOT EXISTS (SELECT 1 FROM {self._s}.records r "
                    "WHERE r.incident_id = i.id)",
                    (longest, now),
                )
        return deleted
