"""The whole-loop demo on the embedded default, over a short part of the replayed day."""

from __future__ import annotations

from pathlib import Path

from nexus_ml.catalog import load_catalog
from nexus_ml.demo_loop import LoopDemoConfig, run_loop_demo
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
