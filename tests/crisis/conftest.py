"""Simulated incidents for the crisis tests: real injected incidents, known ground truth."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import pandas as pd
import pytest

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.crisis import CollectedIncident, collect_incident, load_collection_plans
from nexus_ml.domain.crisis import ErrorType
from nexus_ml.execute.audit import AuditTrail
from nexus_ml.ingest import FrameSource
from nexus_ml.sim import Incident, simulate_history

#: A Monday; the incident day is a week later, so the seasonal reference (7 days) exists.
T0 = datetime(2026, 3, 2, tzinfo=UTC)
INCIDENT_DAY = T0 + timedelta(days=7)
HISTORY_DAYS = 8.5
NOW = T0 + timedelta(days=HISTORY_DAYS)


def at(hours: float) -> datetime:
    """An instant on the incident day."""
    return INCIDENT_DAY + timedelta(hours=hours)


@lru_cache(maxsize=32)
def _history(incidents: tuple[Incident, ...]) -> pd.DataFrame:
    return simulate_history(load_catalog(), start=T0, days=HISTORY_DAYS, incidents=incidents)


def history(*incidents: Incident) -> pd.DataFrame:
    """8.5 days of one-minute metrics of every module with ``incidents`` injected (cached)."""
    return _history(tuple(incidents))


Collect = Callable[..., CollectedIncident]


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def collect(catalog: Catalog) -> Collect:
    """Collect the incident ``incidents[0]`` describes, as ``error_type``, from a simulation."""

    def run(
        error_type: ErrorType,
        incidents: Sequence[Incident],
        *,
        audit: AuditTrail | None = None,
        module: str | None = None,
    ) -> CollectedIncident:
        main = incidents[0]
        return collect_incident(
            module=module or main.module,
            error_type=error_type,
            started_at=main.start,
            ended_at=main.end,
            plan=load_collection_plans().for_type(error_type),
            source=FrameSource(history(*incidents), name="simulator"),
            catalog=catalog,
            now=NOW,
            audit=audit,
        )

    return run
