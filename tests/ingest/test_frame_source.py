"""FrameSource and the quality report, on synthetic frames with known defects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import DataQualityError, InputError
from nexus_ml.ingest import FrameSource, MetricSource, latest_windows, require_coverage
from tests.ingest.conftest import MODULES, synthetic_frame

T0 = datetime(2026, 11, 2, tzinfo=UTC)
MIN = timedelta(minutes=1)


def test_is_a_metric_source() -> None:
    source: MetricSource = FrameSource(synthetic_frame(T0, 10))
    assert source.fetch(["nexus-crm"], T0, T0 + 9 * MIN).frame.shape[0] == 10


def test_full_frame_comes_back_unchanged_with_full_coverage() -> None:
    frame = synthetic_frame(T0, 120)
    fetch = FrameSource(frame).fetch(list(MODULES), T0, T0 + 119 * MIN)
    got = fetch.frame.set_index(["module", "timestamp"]).sort_index()
    want = frame.set_index(["module", "timestamp"]).sort_index()
    pd.testing.assert_frame_equal(got[list(METRIC_FIELDS)], want[list(METRIC_FIELDS)])
    assert fetch.quality.min_coverage() == 1.0
    assert fetch.quality.issues == ()
    assert not any(fetch.quality.stale.values())
    require_coverage(fetch.quality, 0.99)  # does not raise


def test_the_replica_count_is_served_when_the_frame_has_it() -> None:
    frame = synthetic_frame(T0, 30, modules=("nexus-crm",))
    assert "replicas" not in FrameSource(frame).fetch(["nexus-crm"], T0, T0 + 29 * MIN).frame
    counts = np.r_[[2.0] * 20, [np.nan] * 4, [3.0] * 6]
    fetch = FrameSource(frame.assign(replicas=counts)).fetch(["nexus-crm"], T0, T0 + 29 * MIN)
    np.testing.assert_array_equal(fetch.frame["replicas"].to_numpy(), counts)
    assert fetch.quality.nan_values["nexus-crm"] == 0  # not a health metric: no gap counted


def test_gap_nan_duplicates_and_missing_module_are_reported() -> None:
    frame = synthetic_frame(T0, 100, modules=("nexus-crm", "nexus-agendamento"))
    crm = frame["module"] == "nexus-crm"
    minute = (frame["timestamp"] - T0) // MIN
    # a 12-minute hole in crm, NaN cpu values in agendamento, and 3 repeated crm rows
    frame = frame[~(crm & minute.between(40, 51))]
    frame.loc[(frame["module"] == "nexus-agendamento") & minute.between(10, 14), "cpu_usage"] = (
        np.nan
    )
    frame = pd.concat([frame, frame[frame["module"] == "nexus-crm"].head(3)])
    fetch = FrameSource(frame).fetch(
        ["nexus-crm", "nexus-agendamento", "nexus-ghost"], T0, T0 + 99 * MIN
    )
    q = fetch.quality
    assert q.coverage["nexus-crm"]["cpu_usage"] == pytest.approx(88 / 100)
    assert q.longest_gap["nexus-crm"] == timedelta(minutes=12)
    assert q.coverage["nexus-agendamento"]["cpu_usage"] == pytest.approx(0.95)
    assert q.coverage["nexus-agendamento"]["memory_usage"] == 1.0
    assert q.nan_values["nexus-agendamento"] == 5
    assert q.duplicate_timestamps["nexus-crm"] == 3
    assert q.modules_without_data == ("nexus-ghost",)
    assert q.stale["nexus-ghost"] and not q.stale["nexus-crm"]
    assert "nexus-ghost: no data" in q.issues
    assert any("nexus-crm.cpu_usage: coverage 88.0%" in i for i in q.issues)
    ghost = fetch.frame[fetch.frame["module"] == "nexus-ghost"]
    assert len(ghost) == 100 and ghost[list(METRIC_FIELDS)].isna().all().all()


def test_stale_module_when_newest_value_is_old() -> None:
    frame = synthetic_frame(T0, 60)
    frame = frame[~((frame["module"] == "nexus-crm") & (frame["timestamp"] > T0 + 40 * MIN))]
    q = (
        FrameSource(frame, stale_after=timedelta(minutes=5))
        .fetch(list(MODULES), T0, T0 + 59 * MIN)
        .quality
    )
    assert q.stale == {
        "nexus-user-management": False,
        "nexus-agendamento": False,
        "nexus-crm": True,
    }
    assert q.last_seen["nexus-crm"] == T0 + 40 * MIN


def test_coarser_step_takes_the_newest_sample_within_one_step() -> None:
    frame = synthetic_frame(T0, 60)
    fetch = FrameSource(frame).fetch(["nexus-crm"], T0, T0 + 59 * MIN, timedelta(minutes=5))
    assert len(fetch.frame) == 12
    rows = frame[frame["module"] == "nexus-crm"].set_index("timestamp")
    want = rows.loc[fetch.frame["timestamp"], "cpu_usage"].to_numpy()
    np.testing.assert_array_equal(fetch.frame["cpu_usage"].to_numpy(), want)


def test_off_grid_samples_do_not_hide_gaps() -> None:
    # samples 30 s after each 5-minute mark; at a 1-minute grid only the minute after counts
    frame = synthetic_frame(T0 + timedelta(seconds=30), 12, step=timedelta(minutes=5))
    fetch = FrameSource(frame).fetch(["nexus-crm"], T0, T0 + 59 * MIN)
    assert fetch.quality.coverage["nexus-crm"]["cpu_usage"] == pytest.approx(12 / 60)
    assert fetch.quality.longest_gap["nexus-crm"] == timedelta(minutes=4)


def test_training_refuses_low_coverage_naming_module_and_field() -> None:
    frame = synthetic_frame(T0, 100)
    frame.loc[(frame["module"] == "nexus-agendamento") & (frame.index % 100 < 30), "error_rate"] = (
        np.nan
    )
    q = FrameSource(frame).fetch(list(MODULES), T0, T0 + 99 * MIN).quality
    with pytest.raises(
        DataQualityError, match=r"nexus-agendamento\.error_rate coverage 70\.0%"
    ) as err:
        require_coverage(q, 0.8)
    assert err.value.details["module"] == "nexus-agendamento"
    require_coverage(q, 0.7)  # exactly at the limit is enough


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_files_round_trip(tmp_path: Path, suffix: str) -> None:
    frame = synthetic_frame(T0, 30)
    path = tmp_path / f"history{suffix}"
    frame.to_parquet(path) if suffix == ".parquet" else frame.to_csv(path, index=False)
    fetch = FrameSource.from_path(path).fetch(list(MODULES), T0, T0 + 29 * MIN)
    got = fetch.frame.sort_values(["module", "timestamp"])[list(METRIC_FIELDS)].to_numpy()
    want = frame.sort_values(["module", "timestamp"])[list(METRIC_FIELDS)].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-15 if suffix == ".parquet" else 1e-12)


def test_unreadable_file_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "history.json"
    bad.write_text("{}")
    with pytest.raises(InputError, match=r"history\.json.*suffix '\.json'"):
        FrameSource.from_path(bad)
    with pytest.raises(InputError, match="missing column"):
        FrameSource(pd.DataFrame({"module": ["x"], "timestamp": [T0]}))


def test_latest_windows_mark_stale_modules_for_the_policy() -> None:
    frame = synthetic_frame(T0, 60)
    frame = frame[
        ~((frame["module"] == "nexus-agendamento") & (frame["timestamp"] > T0 + 50 * MIN))
    ]
    now = T0 + 59 * MIN
    windows = latest_windows(
        FrameSource(frame),
        list(MODULES),
        now=now,
        window=timedelta(minutes=15),
        max_age=timedelta(minutes=3),
    )
    assert not windows["nexus-crm"].stale and windows["nexus-crm"].age == timedelta(0)
    assert windows["nexus-agendamento"].stale
    assert windows["nexus-agendamento"].age == timedelta(minutes=9)
    assert len(windows["nexus-crm"].frame) == 16
    assert set(windows["nexus-crm"].frame["module"]) == {"nexus-crm"}


def test_factory_picks_prometheus_or_the_simulator() -> None:
    from nexus_ml.ingest.factory import metric_source
    from nexus_ml.ingest.prometheus_source import PrometheusSource
    from nexus_ml.settings import Settings

    prom = metric_source(Settings(prometheus_url="http://127.0.0.1:1", prometheus_timeout_s=3))
    assert isinstance(prom, PrometheusSource) and prom.timeout_s == 3
    now = T0 + timedelta(hours=5)
    sim = metric_source(Settings(prometheus_url=None), sim_days=0.25, now=now)
    fetch = sim.fetch(["nexus-crm"], now - timedelta(hours=1), now)
    assert len(fetch.frame) == 61 and fetch.quality.min_coverage() == 1.0
    given = metric_source(Settings(prometheus_url=None), frame=synthetic_frame(T0, 5))
    assert given.fetch(["nexus-crm"], T0, T0 + 4 * MIN).quality.min_coverage() == 1.0
