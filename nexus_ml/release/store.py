"""Stored release verdicts: one JSON file per release under the state dir, or PostgreSQL.

The service answers ``GET /v1/releases/{id}`` from here; ``nexus-ml release judge --id ID``
writes here. Ids are short, path-safe names (a commit SHA, ``crm-2.1-rc1``).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from nexus_ml.errors import InputError, NexusError, NotFoundError
from nexus_ml.logs import get_logger
from nexus_ml.release.verdict import Verdict

log = get_logger(__name__)

RELEASE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_VALID_ID = re.compile(RELEASE_ID_PATTERN)


def check_release_id(release_id: str) -> str:
    """``release_id`` if it is a valid id (it becomes a file name), else :class:`InputError`."""
    if not _VALID_ID.match(release_id) or release_id in (".", ".."):
        raise InputError(
            f"release id must be 1-128 letters, digits, '.', '_' or '-' (starting with a letter "
            f"or digit), got {release_id!r}"
        )
    return release_id


class ReleaseStore(Protocol):
    """Where verdicts are kept, by release id."""

    def save(self, verdict: Verdict) -> None: ...

    def get(self, release_id: str) -> Verdict: ...


class FileReleaseStore:
    """Verdicts as ``<root>/<id>.json``, written atomically (temp file + rename).

    Parameters
    ----------
    root
        The folder (created on first write), by default ``<state_dir>/releases``.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, verdict: Verdict) -> None:
        if verdict.id is None:
            raise InputError("a verdict needs an id to be stored")
        path = self.root / f"{check_release_id(verdict.id)}.json"
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(verdict.model_dump_json(indent=2))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        log.info("release.verdict_stored", release=verdict.id, verdict=verdict.verdict)

    def get(self, release_id: str) -> Verdict:
        path = self.root / f"{check_release_id(release_id)}.json"
        try:
            return Verdict.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFoundError(f"no release verdict {release_id!r}") from None
        except (OSError, ValidationError) as exc:
            raise NexusError(f"release verdict {release_id!r}: unreadable ({exc})") from None


_DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.verdicts (
    id text PRIMARY KEY,
    verdict text NOT NULL,
    score double precision NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now(),
    body jsonb NOT NULL
);
"""


class PostgresReleaseStore:
    """Verdicts in ``<schema>.verdicts`` (one row per id, replaced when judged again).

    One short autocommit connection per call, as the audit trail does: a service that runs for
    months survives database restarts.
    """

    def __init__(self, dsn: str, *, schema: str = "nexus_releases") -> None:
        if not schema.isidentifier():
            raise ValueError(f"schema must be an identifier, got {schema!r}")
        self._dsn = dsn
        self._schema = schema
        self._ready = False

    def _connect(self) -> Any:
        import psycopg

        try:
            conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
        except psycopg.Error:
            # the driver's message can quote the DSN: say only what failed
            raise NexusError("release store database unreachable") from None
        if not self._ready:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._schema,))
                conn.execute(_DDL.format(schema=self._schema))
            self._ready = True
        return conn

    def save(self, verdict: Verdict) -> None:
        if verdict.id is None:
            raise InputError("a verdict needs an id to be stored")
        check_release_id(verdict.id)
        from psycopg.types.json import Jsonb

        with self._connect() as conn:
            conn.execute(
                f"INSERT INTO {self._schema}.verdicts (id, verdict, score, body) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET verdict = "
                "EXCLUDED.verdict, score = EXCLUDED.score, body = EXCLUDED.body, "
                "stored_at = now()",
                (
                    verdict.id,
                    verdict.verdict,
                    verdict.score,
                    Jsonb(verdict.model_dump(mode="json")),
                ),
            )
        log.info("release.verdict_stored", release=verdict.id, verdict=verdict.verdict)

    def get(self, release_id: str) -> Verdict:
        check_release_id(release_id)
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT body FROM {self._schema}.verdicts WHERE id = %s", (release_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no release verdict {release_id!r}")
        return Verdict.model_validate(row[0])


def release_store_for(state_dir: Path, pg_dsn: str | None) -> ReleaseStore:
    """PostgreSQL when a DSN is configured, else files under ``<state_dir>/releases``."""
    if pg_dsn:
        return PostgresReleaseStore(pg_dsn)
    return FileReleaseStore(state_dir / "releases")
