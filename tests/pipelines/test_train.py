"""The training pipeline end to end on a small simulated history, with a folder store."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nexus_ml.errors import DataQualityError, InputError
from nexus_ml.ingest.frame_source import FrameSource
from nexus_ml.logs import record_event
from nexus_ml.models.registry.local_store import LocalModelStore
from nexus_ml.models.registry.store import CHAMPION, TAG_FINGERPRINT, TAG_PROMOTION, TAG_REASON
from pipelines.train import train
from tests.pipelines.conftest import (
    FIELDS,
    MODULES,
    detector_factory,
    forecaster_factory,
    small_config,
)


def _train(source: FrameSource, store: LocalModelStore, end: datetime, **overrides: object):
    return train(
        source,
        store,
        small_config(**overrides),  # type: ignore[arg-type]
        end=end,
        forecaster_factory=forecaster_factory(),
        detector_factory=detector_factory(),
    )


def test_pipeline_publishes_a_champion_per_module_and_is_idempotent(
    source: FrameSource, sim_end: datetime, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = LocalModelStore(tmp_path / "models")
    with caplog.at_level(logging.INFO, logger="pipelines.train"):
        report = _train(source, store, sim_end)

    assert [o.module for o in report.outcomes] == list(MODULES)
    for outcome in report.outcomes:
        assert outcome.status == "promoted", outcome.reason
        assert outcome.reason == "no champion yet"
        assert 0 < outcome.mase < 5
        bundle = store.load_champion(outcome.module)
        assert bundle is not None and bundle.version == outcome.version == "1"
        assert set(bundle.forecasters) == set(FIELDS)
        tags = store.version_tags(outcome.module, "1")
        assert tags[TAG_PROMOTION] == "promoted" and tags[TAG_REASON] == "no champion yet"
        # The stored forecaster was updated with the backtest day: it forecasts from the end.
        fc = bundle.forecasters["requests_per_min"].predict(12, levels=(80,))
        assert pd.Timestamp(fc["ds"].iloc[0]) == pd.Timestamp(sim_end)
        assert np.isfinite(fc[["mean", "lo-80", "hi-80"]].to_numpy()).all()
        assert (
            tmp_path / "models" / outcome.module / "1" / f"{outcome.module}-backtest.png"
        ).stat().st_size > 1000
        meta = bundle.metadata
        assert meta["metrics"]["mase.cpu_usage"] > 0
        assert meta["params"]["points"] == 8 * 288
    events = [record_event(r) for r in caplog.records]
    outcomes = [fields for event, fields in events if event == "train.outcome"]
    assert len(outcomes) == len(MODULES) and all(f["status"] == "promoted" for f in outcomes)

    again = _train(source, store, sim_end)
    assert [o.status for o in again.outcomes] == ["unchanged", "unchanged"]
    assert [o.version for o in again.outcomes] == ["1", "1"]
    assert not (tmp_path / "models" / MODULES[0] / "2").exists()
    fp = store.version_tags(MODULES[0], "1")[TAG_FINGERPRINT]
    assert store.find_version(MODULES[0], fp) == "1"


def test_new_data_makes_a_new_version_judged_against_the_champion(
    source: FrameSource, sim_end: datetime, tmp_path: Path
) -> None:
    store = LocalModelStore(tmp_path / "models")
    _train(source, store, sim_end, modules=MODULES[:1])
    later = _train(source, store, sim_end, modules=MODULES[:1], days=7.0)  # another window

    (outcome,) = later.outcomes
    assert outcome.version == "2"
    assert outcome.champion_mase is not None and np.isfinite(outcome.champion_mase)
    assert outcome.status in {"promoted", "challenger"}
    alias = CHAMPION if outcome.status == "promoted" else "challenger"
    assert store.alias_version(MODULES[0], alias) == "2"
    assert store.champion_version(MODULES[0]) == ("2" if outcome.status == "promoted" else "1")


def test_low_coverage_is_refused_with_the_module_and_its_coverage(
    sim_frame: pd.DataFrame, sim_end: datetime, tmp_path: Path
) -> None:
    holey = sim_frame.copy()
    rows = holey["module"] == MODULES[1]
    holey.loc[rows & (holey.index % 3 == 0), "cpu_usage"] = np.nan  # a third missing
    store = LocalModelStore(tmp_path / "models")
    with pytest.raises(DataQualityError, match=rf"{MODULES[1]} 6\d\.\d%"):
        _train(FrameSource(holey), store, sim_end)
    assert not (tmp_path / "models").exists()


def test_forecast_fields_must_include_what_the_service_needs(
    source: FrameSource, sim_end: datetime, tmp_path: Path
) -> None:
    with pytest.raises(Exception, match="requests_per_min"):
        _train(source, LocalModelStore(tmp_path), sim_end, forecast_fields=("cpu_usage",))


def test_history_shorter_than_the_backtest_is_rejected() -> None:
    with pytest.raises(InputError, match="1 days"):
        small_config(days=1.0)
