"""The crisis record store chosen from settings: the one place that makes the choice."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nexus_ml.crisis.records import FileRecordStore, RecordStore
from nexus_ml.crisis.records_pg import PostgresRecordStore

if TYPE_CHECKING:
    from nexus_ml.settings import Settings


def record_store_for(settings: Settings) -> RecordStore:
    """PostgreSQL when ``NEXUS_PG_DSN`` is set, else files under ``<state_dir>/crisis``."""
    if settings.pg_dsn is not None:
        return PostgresRecordStore(settings.pg_dsn.get_secret_value())
    return FileRecordStore(settings.state_dir / "crisis")
