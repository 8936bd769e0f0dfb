"""Done-when (a): history backfilled with promtool reads back through PrometheusSource as written.

The test starts its own Prometheus over the freshly written blocks (the shared one cannot load
blocks at once), on a free loopback port, and stops it at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import DataQualityError
from nexus_ml.ingest import require_coverage
from nexus_ml.ingest.backfill import backfill
from nexus_ml.ingest.prometheus_source import PrometheusSource
from nexus_ml.ingest.promserver import LocalPrometheus
from tests.ingest.conftest import MODULES, need_binary, recent_start, synthetic_frame

pytestmark = pytest.mark.integration

MINUTES = 36 * 60  # 36 h: crosses a 24 h block boundary
START = recent_start(MINUTES)
MIN = timedelta(minutes=1)
GAP = (600, 611)  # crm misses minutes 600..611 (12 min, longer than the 5 min lookback)


def _history() -> pd.DataFrame:
    frame = synthetic_frame(START, MINUTES, seed=11)
    minute = (frame["timestamp"] - pd.Timestamp(START)) // pd.Timedelta(MIN)
    frame["replicas"] = (minute % 4 + 1).astype(np.int64)  # an extra column, like the simulator's
    hole = (frame["module"] == "nexus-crm") & minute.between(*GAP)
    return frame[~hole].reset_index(drop=True)


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return _history()


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory, history: pd.DataFrame) -> Iterator[str]:
    need_binary("promtool")
    need_binary("prometheus")
    tsdb = tmp_path_factory.mktemp("tsdb")
    result = backfill(history, tsdb)
    assert result.samples == history[[*METRIC_FIELDS, "replicas"]].notna().to_numpy().sum()
    assert len(result.blocks) >= 2  # 36 h at --max-block-duration=24h
    with LocalPrometheus(tsdb) as server:
        yield server.url


def _by_key(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index(["module", "timestamp"]).sort_index()


def test_backfilled_history_reads_back_exactly(prom: str, history: pd.DataFrame) -> None:
    # small chunks: the fetch is stitched from many range queries
    source = PrometheusSource(prom, timeout_s=10, chunk_points=700)
    end = START + (MINUTES - 1) * MIN
    fetch = source.fetch(list(MODULES), START, end)
    assert len(fetch.frame) == len(MODULES) * MINUTES
    got = _by_key(fetch.frame)
    want = _by_key(history).reindex(got.index)  # the hole comes back as NaN rows
    for f in METRIC_FIELDS:
        np.testing.assert_allclose(got[f].to_numpy(), want[f].to_numpy(), rtol=1e-12, err_msg=f)
    q = fetch.quality
    assert q.coverage["nexus-agendamento"] == dict.fromkeys(METRIC_FIELDS, 1.0)
    assert q.coverage["nexus-crm"]["cpu_usage"] == pytest.approx(1 - 12 / MINUTES)
    assert q.longest_gap["nexus-crm"] == timedelta(minutes=12)
    assert q.duplicate_timestamps == dict.fromkeys(MODULES, 0)
    assert q.counter_resets == dict.fromkeys(MODULES, 0)  # no raw counters were backfilled
    assert not any(q.stale.values())


def test_coarse_step_reads_the_samples_at_its_instants(prom: str, history: pd.DataFrame) -> None:
    source = PrometheusSource(prom, timeout_s=10)
    fetch = source.fetch(
        ["nexus-user-management"], START, START + 6 * 60 * MIN, timedelta(minutes=15)
    )
    assert len(fetch.frame) in (24, 25)  # quarter hours inside 6 h
    assert (fetch.frame["timestamp"].dt.minute % 15 == 0).all()
    want = _by_key(history).loc["nexus-user-management"].loc[fetch.frame["timestamp"], "cpu_usage"]
    np.testing.assert_allclose(fetch.frame["cpu_usage"].to_numpy(), want.to_numpy(), rtol=1e-12)


def test_unknown_module_and_training_gate(prom: str) -> None:
    source = PrometheusSource(prom, timeout_s=10)
    fetch = source.fetch(["nexus-crm", "nexus-ghost"], START, START + 700 * MIN)
    assert fetch.quality.modules_without_data == ("nexus-ghost",)
    with pytest.raises(DataQualityError, match=r"nexus-ghost\.cpu_usage coverage 0\.0%"):
        require_coverage(fetch.quality, 0.8)
    crm_only = source.fetch(["nexus-crm"], START, START + 700 * MIN)
    with pytest.raises(DataQualityError, match=r"nexus-crm\.\w+ coverage 98\.3%"):
        require_coverage(crm_only.quality, 0.99)  # 12 of 701 minutes missing
    require_coverage(crm_only.quality, 0.98)


def test_newest_values_beyond_the_backfill_are_stale(prom: str) -> None:
    source = PrometheusSource(prom, timeout_s=10, stale_after=timedelta(minutes=5))
    end = START + (MINUTES + 30) * MIN  # 30 min after the last backfilled sample
    fetch = source.fetch(list(MODULES), end - timedelta(hours=1), end)
    assert all(fetch.quality.stale.values())
    assert fetch.quality.last_seen["nexus-crm"] == START + (MINUTES - 1) * MIN


def test_cli_backfill_then_fetch(tmp_path: Path, prom: str, history: pd.DataFrame) -> None:
    from typer.testing import CliRunner

    from nexus_ml.cli.main import app

    runner = CliRunner()
    src = tmp_path / "history.parquet"
    history[history["module"] == "nexus-crm"].head(300).to_parquet(src)
    tsdb = tmp_path / "tsdb"
    result = runner.invoke(app, ["prometheus", "backfill", str(src), "--tsdb", str(tsdb)])
    assert result.exit_code == 0, result.output
    assert "2700 samples" in result.output  # 300 rows x (8 fields + replicas)
    assert any(p.is_dir() and (p / "meta.json").exists() for p in tsdb.iterdir())

    out = tmp_path / "crm.parquet"
    args = [
        "metrics",
        "fetch",
        "--module",
        "crm",
        "--prometheus-url",
        prom,
        "--start",
        START.isoformat(),
        "--end",
        (START + 99 * MIN).isoformat(),
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = pd.read_parquet(out)
    assert len(saved) == 100 and set(saved["module"]) == {"nexus-crm"}
    want = _by_key(history).loc["nexus-crm"].iloc[:100]
    np.testing.assert_allclose(
        saved["cpu_usage"].to_numpy(), want["cpu_usage"].to_numpy(), rtol=1e-12
    )
