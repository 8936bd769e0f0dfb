"""The whole-loop demo on the embedded default, over a short part of the replayed day."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from apps.loop_demo import LoopDemoConfig, run_loop_demo
from nexus_ml.catalog import load_catalog
from nexus_ml.execute.audit import JsonlAudit


def test_the_month_end_surge_is_met_by_scale_ups_through_the_real_service(tmp_path: Path) -> None:
    events: list[str] = []
    config = LoopDemoConfig(
        start_hour=9.5, replay_hours=1.5, train=False, history_days=2, out_dir=tmp_path
    )
    result = run_loop_demo(load_catalog(), config, on_event=events.append)
    crm_ups = [a for a in result.actions if "nexus-crm: scale_up" in a]
    assert crm_ups, result.actions
    assert all("->" in a for a in crm_ups)
    assert result.ticks == 18  # 90 minutes, one pass every 5
    assert result.plot is not None and result.plot.stat().st_size > 10_000
    trail = JsonlAudit(tmp_path / "audit.jsonl").since(config.day)
    assert sum(e.event == "action_taken" for e in trail) == len(result.actions)
    assert any(line.startswith("[applied]") for line in events)
    # the trace: one row per module and simulated minute, with the capacity the replicas serve
    trace = pd.read_csv(result.trace_csv)
    assert list(trace.columns) == [
        "timestamp",
        "module",
        "demand_rpm",
        "replicas",
        "max_replicas",
        "capacity_rpm",
    ]
    assert len(trace) == 90 * 3 and set(trace["module"]) == set(load_catalog().names)
    assert {m.module for m in result.modules} == set(load_catalog().names)
    # the dashboard's static snapshot, openable without a server
    snapshot = (tmp_path / "dashboard.html").read_text(encoding="utf-8")
    assert "nexus-crm" in snapshot and "uPlot" in snapshot
    assert any("/dashboard" in line for line in events)


@pytest.mark.slow
def test_the_demo_day_on_champions_keeps_every_module_within_capacity(tmp_path: Path) -> None:
    """The demo as `make demo` runs it: no module above capacity below its maximum for more
    than 15 minutes; a module at its maximum and still overloaded is alerted."""
    result = run_loop_demo(load_catalog(), LoopDemoConfig(out_dir=tmp_path))
    for m in result.modules:
        assert m.overloaded_below_max_min <= 15, m
        if m.overloaded_at_max_min:
            assert any(a.startswith(m.module) for a in result.alerts), (m, result.alerts)
