"""A decision reads only settled minutes: two replicas reading a filling minute agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.domain import Action
from nexus_ml.engine import DecisionEngine, NullMetrics
from nexus_ml.engine.strategies import SETTLE
from nexus_ml.ingest.frame_source import FrameSource
from nexus_ml.models.registry.store import ModelBundle
from nexus_ml.sim import simulate_history

CRM = "nexus-crm"


class NoChampions:
    def get(self, module: str) -> ModelBundle | None:
        return None


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    frame = simulate_history(
        load_catalog(), start=datetime(2026, 11, 2, 3, tzinfo=UTC), days=0.25, seed=5
    )
    return frame[frame["module"] == CRM].reset_index(drop=True)


def test_two_replicas_reading_a_filling_minute_seconds_apart_decide_alike(
    history: pd.DataFrame,
) -> None:
    """The first scrape of the newest minute caught a burst (3× what one CRM replica serves)
    that the minute's final value does not show. One service replica reads the minute 5 s
    after its grid time, the other 12 s after: neither acts on it, both decide alike. Once the
    minute has settled, a burst that stayed is read by both."""
    crm = load_catalog().get(CRM)
    burst = 3 * crm.capacity_rpm_per_replica
    newest = history["timestamp"].iloc[-1].to_pydatetime()
    partial = history.copy()
    partial.loc[partial.index[-1], "requests_per_min"] = burst
    clock = {"now": newest}

    def engine(frame: pd.DataFrame) -> DecisionEngine:
        return DecisionEngine(
            load_catalog(), FrameSource(frame), NoChampions(), NullMetrics(),
            clock=lambda: clock["now"], cache_s=0.0,
        )  # fmt: skip

    early_engine, late_engine = engine(partial), engine(history)
    clock["now"] = newest + timedelta(seconds=5)
    early = early_engine.decide(CRM)
    clock["now"] = newest + timedelta(seconds=12)
    late = late_engine.decide(CRM)
    assert early.action is late.action is Action.HOLD
    assert early.target_replicas == late.target_replicas
    assert late_engine.read_windows([CRM])[CRM].timestamps[-1] < newest
    # settled: the burst is read (and acted on) once it is the minute's final value
    clock["now"] = newest + SETTLE + timedelta(seconds=1)
    assert early_engine.read_windows([CRM])[CRM].timestamps[-1] == newest
    assert early_engine.decide(CRM).action is Action.SCALE_UP
    assert late_engine.decide(CRM).action is Action.HOLD
