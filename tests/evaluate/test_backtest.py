"""Forecast protocol v1: readers, origins, scaling, scores, and one real Crane trace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nexus_ml.errors import InputError
from nexus_ml.evaluate.forecast_backtest import (
    ProtocolV1,
    backtest_series,
    origin_positions,
    read_trace,
    resample_trace,
    run_backtest,
    seasonal_naive_scale,
)
from nexus_ml.evaluate.forecast_references import make_models, statsforecast_mstl
from tests.conftest import SharedData


def write_ts_value(path: Path, days: float, *, seed: int = 0) -> Path:
    t = np.arange(0, int(days * 86400), 60) + 1_700_000_000
    rng = np.random.default_rng(seed)
    v = 50 + 20 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 2, t.size)
    pd.DataFrame({"ts": t, "value": v}).to_csv(path, index=False)
    return path


def test_reads_both_layouts(tmp_path: Path) -> None:
    a = read_trace(write_ts_value(tmp_path / "a.csv", 0.01))
    assert str(a.index.tz) == "UTC" and a.index[0] == pd.Timestamp(
        1_700_000_000, unit="s", tz="UTC"
    )
    (tmp_path / "b.csv").write_text(
        "TimeStamp,Value,Label\n2018-07-03 15:00:00,2,0\n2018-07-03 14:00:00,1,1\n"
    )
    b = read_trace(tmp_path / "b.csv")
    assert b.tolist() == [1.0, 2.0] and b.index[0] == pd.Timestamp("2018-07-03 14:00", tz="UTC")


def test_bad_csvs_are_input_errors_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("when,what\n1,2\n")
    with pytest.raises(InputError, match=r"x\.csv: expected columns ts,value"):
        read_trace(tmp_path / "x.csv")
    (tmp_path / "y.csv").write_text("ts,value\n1,abc\n")
    with pytest.raises(InputError, match=r"y\.csv: bad timestamp or value"):
        read_trace(tmp_path / "y.csv")


def test_resample_means_and_forward_fills() -> None:
    index = pd.to_datetime([0, 60, 120, 900], unit="s", utc=True)
    out = resample_trace(pd.Series([1.0, 2.0, 3.0, 9.0], index=index), "5min")
    assert out.tolist() == [2.0, 2.0, 2.0, 9.0]


def test_origins_every_six_hours_over_the_last_three_days() -> None:
    protocol = ProtocolV1()
    n = 16 * 288
    origins = origin_positions(n, protocol)
    assert len(origins) == 12
    assert origins[0] == n - 3 * 288 and np.all(np.diff(origins) == 72)
    assert origins[-1] + protocol.horizon <= n


def test_seasonal_naive_scale_by_hand() -> None:
    y = np.array([1.0, 2.0, 4.0, 1.0, 5.0])
    assert seasonal_naive_scale(y, 3) == pytest.approx((0 + 3) / 2)


def test_seasonal_naive_is_the_reference_and_perfect_on_a_periodic_series() -> None:
    index = pd.date_range("2026-01-01", periods=int(4.5 * 288), freq="5min", tz="UTC")
    t = np.arange(index.size)
    rng = np.random.default_rng(0)
    y = pd.Series(np.sin(2 * np.pi * t / 288) + rng.normal(0, 0.01, t.size), index=index)
    scores = backtest_series(y, make_models(["nexus", "seasonal_naive"], 288))
    assert scores["seasonal_naive"].relative_mase == 1.0
    assert scores["seasonal_naive"].origins == 12
    assert scores["nexus"].mase < 1.2 and scores["nexus"].seconds > 0


def test_statsforecast_reference_gives_ordered_intervals() -> None:
    index = pd.date_range("2026-01-01", periods=24 * 6, freq="h", tz="UTC")
    y = pd.Series(10 + np.sin(2 * np.pi * np.arange(index.size) / 24), index=index)
    fc = statsforecast_mstl(24)(y, 6, 80)
    assert fc.mean.shape == (6,) and np.all(fc.lo <= fc.mean) and np.all(fc.mean <= fc.hi)


def test_unknown_model_and_empty_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown model 'prophet'"):
        make_models(["prophet"], 288)
    with pytest.raises(InputError, match=r"no \.csv traces"):
        run_backtest(tmp_path)


@pytest.mark.shared_data
def test_protocol_v1_on_the_short_crane_trace(shared_data: SharedData, tmp_path: Path) -> None:
    trace = tmp_path / "crane"
    trace.mkdir()
    (trace / "input0.csv").symlink_to(shared_data.file("traces/crane/input0.csv"))
    report = run_backtest(trace, model_names=["nexus", "seasonal_naive"])
    scores = report.traces["input0"]
    assert scores["nexus"].origins == 12
    assert scores["nexus"].relative_mase < 0.9  # clearly better than yesterday's values
    assert 0.4 <= scores["nexus"].coverage80 <= 1.0
    assert report.aggregate["nexus"].relative_mase == pytest.approx(scores["nexus"].relative_mase)
    payload = report.to_json()
    assert set(payload) == {"aggregate", "traces"}
    assert set(payload["aggregate"]["nexus"]) >= {"relative_mase", "coverage80", "seconds"}
