"""A decision reads only settled minutes: two replicas reading a filling minute agree."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.domain import Action
from nexus_ml.engine.strategies import SETTLE
from tests.service.fakes import crm_history, rules_engine

CRM = "nexus-crm"


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return crm_history()


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

    early_engine = rules_engine(partial, lambda: clock["now"])
    late_engine = rules_engine(history, lambda: clock["now"])
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
