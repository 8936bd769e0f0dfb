"""The decision path's anomaly scores: online updates equal scoring the rows in one pass."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.decide.window import MetricWindow
from nexus_ml.domain import Decision, Evidence
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.engine import DecisionEngine, NullMetrics
from nexus_ml.engine.online_anomaly import OnlineAnomalyScorer
from nexus_ml.engine.strategies import SETTLE
from nexus_ml.ingest.frame_source import FrameSource
from nexus_ml.models.anomaly.detector import AnomalyDetector
from nexus_ml.models.registry.store import ModelBundle
from nexus_ml.sim import simulate_history
from tests.service.fakes import calm_scaler


@pytest.fixture(scope="module")
def crm() -> pd.DataFrame:
    history = simulate_history(
        load_catalog(), start=datetime(2026, 11, 2, tzinfo=UTC), days=1.5, seed=4
    )
    rows = history[history["module"] == "nexus-crm"].set_index("timestamp")
    return rows[list(METRIC_FIELDS)]


@pytest.fixture(scope="module")
def bundle(crm: pd.DataFrame) -> ModelBundle:
    detector = AnomalyDetector().fit(crm.iloc[:1440])
    return ModelBundle(module="nexus-crm", version="1", forecasters={}, detector=detector)


def engines_on(
    crm: pd.DataFrame, bundle: ModelBundle, count: int
) -> tuple[pd.DataFrame, dict[str, datetime], list[DecisionEngine]]:
    """``count`` decision engines over CRM's metrics (as a source), serving ``bundle`` with a calm
    scaler as CRM's champion, on one clock (``clock["now"]``, set to minute 1500)."""
    frame = crm.reset_index().assign(module="nexus-crm")
    champion = replace(bundle, scaler=calm_scaler("nexus-crm"))

    class One:
        def get(self, module: str) -> ModelBundle | None:
            return champion if module == "nexus-crm" else None

    clock = {"now": frame["timestamp"].iloc[1500].to_pydatetime()}
    engines = [
        DecisionEngine(
            load_catalog(), FrameSource(frame), One(), NullMetrics(), clock=lambda: clock["now"]
        )
        for _ in range(count)
    ]
    return frame, clock, engines


def test_sliding_windows_score_like_one_pass(crm: pd.DataFrame, bundle: ModelBundle) -> None:
    scorer = OnlineAnomalyScorer(warmup_rows=30)
    live = crm.iloc[1440:]
    first = scorer.latest(bundle, live.iloc[0:60])
    second = scorer.latest(bundle, live.iloc[10:75])  # overlaps: 15 new rows
    one_pass = bundle.detector.score(live.iloc[30:75])
    assert first is not None and second is not None
    pd.testing.assert_series_equal(second, one_pass.iloc[-1], check_names=False)
    # the champion's own state is never changed by the service's online copy
    again = bundle.detector.score(live.iloc[30:75])
    pd.testing.assert_frame_equal(again, one_pass)


def test_same_window_twice_returns_the_cached_scores(
    crm: pd.DataFrame, bundle: ModelBundle
) -> None:
    scorer = OnlineAnomalyScorer()
    window = crm.iloc[1440:1500]
    assert scorer.latest(bundle, window).equals(scorer.latest(bundle, window))


def test_gap_or_new_version_restarts_from_the_champion(
    crm: pd.DataFrame, bundle: ModelBundle
) -> None:
    scorer = OnlineAnomalyScorer(warmup_rows=20)
    live = crm.iloc[1440:]
    scorer.latest(bundle, live.iloc[0:40])
    after_gap = scorer.latest(bundle, live.iloc[100:140])  # starts after the last seen row
    fresh = bundle.detector.score(live.iloc[120:140]).iloc[-1]
    pd.testing.assert_series_equal(after_gap, fresh, check_names=False)

    newer = ModelBundle(module="nexus-crm", version="2", forecasters={}, detector=bundle.detector)
    moved = scorer.latest(newer, live.iloc[110:150])
    pd.testing.assert_series_equal(
        moved, bundle.detector.score(live.iloc[130:150]).iloc[-1], check_names=False
    )


def test_no_detector_or_no_rows_gives_none(crm: pd.DataFrame) -> None:
    scorer = OnlineAnomalyScorer()
    empty = ModelBundle(module="nexus-crm", version="1", forecasters={}, detector=None)
    assert scorer.latest(empty, crm.iloc[:10]) is None


def test_the_engine_keeps_the_online_detector_going_minute_after_minute(
    crm: pd.DataFrame, bundle: ModelBundle
) -> None:
    """The engine hands the detector time-indexed windows: after the first warm-up it never
    starts over (a reset per decision would mean rescoring the window every time)."""
    frame, clock, (engine,) = engines_on(crm, bundle, 1)
    for minute in range(1500, 1530):
        window = MetricWindow.from_frame(frame.iloc[minute - 60 : minute], "nexus-crm")
        clock["now"] = window.timestamps[-1]
        d = engine.decide("nexus-crm", window)
        assert any(e.kind == "anomaly" for e in d.explanation)
    assert engine._online_anomaly.resets == 1


def test_two_engines_reading_a_filling_minute_seconds_apart_keep_the_same_detector(
    crm: pd.DataFrame, bundle: ModelBundle
) -> None:
    """The newest minute is still filling in when one replica reads it (a burst of errors from
    a partial scrape) and final when the other does: the detector folds it only once settled,
    so both replicas score every later minute alike (the strategy's rule, SETTLE)."""
    frame, clock, engines = engines_on(crm, bundle, 2)

    def window(end: int, partial: bool = False) -> MetricWindow:
        rows = frame.iloc[end - 60 : end].copy()
        if partial:  # the first scrape of the newest minute saw only failures
            rows.loc[rows.index[-1], "error_rate"] = 0.9
        return MetricWindow.from_frame(rows, "nexus-crm")

    def anomaly(d: Decision) -> list[Evidence]:
        return [e for e in d.explanation if e.kind == "anomaly"]

    newest = window(1500).timestamps[-1]
    clock["now"] = newest + timedelta(seconds=5)
    early = engines[0].decide("nexus-crm", window(1500, partial=True))
    clock["now"] = newest + timedelta(seconds=12)
    late = engines[1].decide("nexus-crm", window(1500))
    assert anomaly(early) and anomaly(early) == anomaly(late)
    for minute in range(1501, 1511):
        clock["now"] = window(minute).timestamps[-1] + SETTLE + timedelta(seconds=5)
        first, second = (e.decide("nexus-crm", window(minute)) for e in engines)
        assert anomaly(first) == anomaly(second), minute
    scores = [e._online_anomaly._states["nexus-crm"].latest for e in engines]
    pd.testing.assert_series_equal(scores[0], scores[1])
