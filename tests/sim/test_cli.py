"""``nexus-ml simulate`` and ``nexus-ml demo`` end to end, through the real CLI app."""

from __future__ import annotations

import functools
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from apps import loop_demo
from nexus_ml.catalog import load_catalog
from nexus_ml.cli.main import app
from nexus_ml.domain.frame import FRAME_COLUMNS, validate_metric_frame

runner = CliRunner()


def test_simulate_writes_a_valid_parquet(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "history.parquet"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--days",
            "2",
            "--out",
            str(out),
            "--seed",
            "3",
            "--start",
            "2026-01-29T03:00",
            "--incident",
            "kind=error_burst,module=crm,start=2026-01-30T15:00,duration=30m,magnitude=0.4",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"{2 * 1440 * len(load_catalog().modules):,} rows" in result.output
    frame = pd.read_parquet(out)
    assert len(frame) == 2 * 1440 * len(load_catalog().modules)
    validate_metric_frame(frame)
    assert set(FRAME_COLUMNS) | {"replicas", "demand_rpm"} == set(frame.columns)
    assert str(frame["timestamp"].dt.tz) == "UTC"
    crm = frame[frame["module"] == "nexus-crm"].set_index("timestamp")
    burst = crm.loc["2026-01-30 15:00":"2026-01-30 15:29", "error_rate"]
    assert len(burst) == 30 and burst.min() > 0.39
    assert crm["error_rate"].drop(burst.index).max() < 0.1
    # Same seed, same file content.
    again = tmp_path / "again.parquet"
    runner.invoke(
        app,
        [
            "simulate",
            "--days",
            "2",
            "--out",
            str(again),
            "--seed",
            "3",
            "--start",
            "2026-01-29T03:00",
            "--incident",
            "kind=error_burst,module=crm,start=2026-01-30T15:00,duration=30m,magnitude=0.4",
        ],
    )
    pd.testing.assert_frame_equal(frame, pd.read_parquet(again))


def test_simulate_rejects_bad_input_with_one_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "simulate",
            "--days",
            "1",
            "--out",
            str(tmp_path / "h.parquet"),
            "--incident",
            "kind=meteor,module=crm",
        ],
    )
    assert result.exit_code == 2
    assert "'meteor'" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["simulate", "--start", "yesterday-ish"])
    assert result.exit_code == 2 and "'yesterday-ish'" in result.output
    result = runner.invoke(
        app,
        [
            "simulate",
            "--days",
            "1",
            "--out",
            str(tmp_path / "h.parquet"),
            "--incident",
            "kind=error_burst,module=billing,start=2026-01-01,duration=1h,magnitude=1",
        ],
    )
    assert result.exit_code == 2 and "'billing'" in result.output


def test_demo_prints_the_summary_and_writes_the_plot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Step 4 over 90 minutes of the month-end surge instead of the whole day: what the loop
    # does through the day is tests/loop/test_demo_loop.py's (on champions, as `make demo`
    # runs it); this test is the CLI around it.
    monkeypatch.setattr(
        loop_demo,
        "LoopDemoConfig",
        functools.partial(
            loop_demo.LoopDemoConfig, start_hour=9.5, replay_hours=1.5, history_days=2
        ),
    )
    out = tmp_path / "demo-out"
    result = runner.invoke(app, ["demo", "--days", "8", "--out", str(out), "--no-train"])
    assert result.exit_code == 0, result.output
    assert "The replayed day, per module" in result.output
    assert "18 executor passes" in result.output  # 90 minutes, one pass every 5
    assert (out / "audit.jsonl").stat().st_size > 0
    png = out / "demand_week.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # three panels of a week, not an empty canvas
    for module in ("crm", "agendamento", "user-management"):
        assert module in result.output
    assert "error burst" in result.output  # the incident planned for day 1
    assert str(out) in result.output.replace("\n", "")
