"""The strategy folds a minute only once it has settled, so replicas asked seconds apart agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from nexus_ml.catalog import load_catalog
from nexus_ml.decide.window import MetricWindow
from nexus_ml.engine.strategies import SETTLE, StrategyBook, minute_grid
from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk
from nexus_ml.models.registry.store import ModelBundle

CRM = "nexus-crm"
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _window(end: datetime, last_value: float, n: int = 30) -> MetricWindow:
    stamps = tuple(end - timedelta(minutes=n - 1 - i) for i in range(n))
    demand = [200.0 + 10 * np.sin(i / 3) for i in range(n - 1)] + [last_value]
    return MetricWindow(
        module=CRM, timestamps=stamps, values={"requests_per_min": demand}, replicas=[1.0] * n
    )


def _bundle(history_end: datetime) -> ModelBundle:
    index = pd.date_range(end=history_end, periods=600, freq="1min")
    y = pd.Series(200 + 10 * np.random.default_rng(5).standard_normal(600), index=index)
    risk = LeadTimeRisk(lead_time=2, season=60).fit(y)
    return ModelBundle(module=CRM, version="1", forecasters={}, detector=None, scaler=risk)


def test_the_newest_minute_is_folded_only_once_settled() -> None:
    window = _window(T0, 950.0)
    demand, _, last = minute_grid(window, None, T0 - SETTLE)
    assert last == T0 - timedelta(minutes=1) and len(demand) == len(window) - 1
    assert minute_grid(window, None)[2] == T0  # no bound: every minute


def test_two_replicas_asking_seconds_apart_fold_the_same_state() -> None:
    profile = load_catalog().get(CRM)
    bundle = _bundle(T0 - timedelta(minutes=30))
    early, late = StrategyBook(source=None), StrategyBook(source=None)  # type: ignore[arg-type]
    # the newest point (12:00) is still filling in: the first replica reads it as 400 rpm a few
    # seconds after the minute, the second as 950 rpm once the last scrape arrived (both within
    # the settling time)
    now = T0 + timedelta(seconds=5)
    a = early.strategy(bundle, profile, _window(T0, 400.0), now=now)
    b = late.strategy(bundle, profile, _window(T0, 950.0), now=now + timedelta(seconds=8))
    assert a.strategy.observed_until == b.strategy.observed_until == T0 - timedelta(minutes=1)
    assert a.propose(1) == b.propose(1)
    # a minute later both fold 12:00 as it finally is
    later = T0 + SETTLE + timedelta(seconds=5)
    a = early.strategy(bundle, profile, _window(T0 + timedelta(minutes=1), 300.0), now=later)
    b = late.strategy(bundle, profile, _window(T0 + timedelta(minutes=1), 300.0), now=later)
    assert a.strategy.observed_until == b.strategy.observed_until == T0
    assert a.propose(1) == b.propose(1)
