from __future__ import annotations

import io
import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import IngestError, InputError
from nexus_ml.ingest.backfill import backfill, promtool_block_seconds, write_openmetrics
from tests.ingest.conftest import need_binary, synthetic_frame

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def test_openmetrics_text_is_exact_grouped_and_skips_nan() -> None:
    frame = synthetic_frame(T0, 3, modules=("nexus-crm", 'we"ird'))
    frame.loc[1, "cpu_usage"] = np.nan
    frame["replicas"] = np.arange(len(frame))
    out = io.StringIO()
    samples = write_openmetrics(frame, out)
    lines = out.getvalue().splitlines()
    assert lines[-1] == "# EOF"
    assert samples == len(frame) * (len(METRIC_FIELDS) + 1) - 1
    families = [line.split()[2] for line in lines if line.startswith("# TYPE")]
    assert families == [f"nexus:{f}" for f in METRIC_FIELDS] + ["nexus:replicas"]
    cpu = [line for line in lines if line.startswith("nexus:cpu_usage{")]
    assert len(cpu) == 5
    first = cpu[0].split()
    assert first[0] == 'nexus:cpu_usage{module="nexus-crm"}'
    assert float(first[1]) == frame.loc[0, "cpu_usage"]  # shortest repr parses back exactly
    assert first[2] == str(int(T0.timestamp()))
    assert any('{module="we\\"ird"}' in line for line in lines)


def test_block_length_follows_promtool() -> None:
    hours = [promtool_block_seconds(timedelta(hours=h)) // 3600 for h in (2, 6, 24, 100)]
    assert hours == [2, 6, 18, 54]


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no rows"):
        backfill(synthetic_frame(T0, 3).iloc[0:0], tmp_path)
    with pytest.raises(InputError, match="whole hours"):
        backfill(synthetic_frame(T0, 3), tmp_path, max_block_duration=timedelta(minutes=90))
    with pytest.raises(IngestError, match="promtool not found"):
        backfill(synthetic_frame(T0, 3), tmp_path, promtool="/nonexistent/promtool")


def test_one_block_per_promtool_window(tmp_path: Path) -> None:
    need_binary("promtool")
    frame = synthetic_frame(T0, 40 * 60, modules=("nexus-crm",))  # 40 h from a midnight
    result = backfill(frame, tmp_path / "tsdb", keep_openmetrics=tmp_path / "om")
    # 18 h windows aligned on the epoch: 2026-11-02 00:00 lies 12 h into one
    assert len(result.openmetrics) == len(result.blocks) == 3
    metas = [json.loads((tmp_path / "tsdb" / b / "meta.json").read_text()) for b in result.blocks]
    assert sum(m["stats"]["numSamples"] for m in metas) == result.samples == 40 * 60 * 8
    spans = sorted((m["minTime"], m["maxTime"]) for m in metas)
    assert spans[0][0] == int(T0.timestamp() * 1000)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))  # no overlap
    assert pd.Timestamp(spans[-1][1] - 1, unit="ms", tz="UTC") == T0 + timedelta(
        minutes=40 * 60 - 1
    )
