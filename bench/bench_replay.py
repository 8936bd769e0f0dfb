"""Replay model v1 on ../shared/data/traces/crane: every policy side by side (issue 8 targets).

Prints the summary and the targets check, writes bench/results/replay.json and replay.html.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from nexus_ml.sim.replay.report import render_html, run_benchmark

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "data" / "traces" / "crane"
RESULTS = ROOT / "bench" / "results"


def main() -> None:
    traces = sorted(TRACES.glob("*.csv"))
    started = time.perf_counter()
    run = run_benchmark(traces)
    seconds = time.perf_counter() - started
    summary = run.summary()
    calibration = run.calibration()
    nexus, hpa = summary["nexus"], summary["hpa"]
    checks = {
        "tau_u_vs_hpa": nexus["tau_u"] / hpa["tau_u"],
        "overload_vs_hpa": nexus["overload_minutes_servable_total"]
        / max(hpa["overload_minutes_servable_total"], 1.0),
        "replica_hours_vs_oracle": nexus["replica_hours_vs_oracle"],
        "ece": calibration.ece,
    }
    targets = {
        "tau_u_vs_hpa": 0.25,
        "overload_vs_hpa": 0.25,
        "replica_hours_vs_oracle": 1.10,
        "ece": 0.05,
    }
    header = ("tau_u", "theta_u", "overload", "rh/oracle", "events")
    print(f"{'policy':<12} " + " ".join(f"{h:>9}" for h in header))
    for policy, v in summary.items():
        print(
            f"{policy:<12} {v['tau_u']:9.2f} {v['theta_u']:9.2f} "
            f"{v['overload_minutes_servable_total']:9.0f} {v['replica_hours_vs_oracle']:9.3f} "
            f"{v['scale_events']:9.0f}"
        )
    for name, value in checks.items():
        verdict = "ok" if value <= targets[name] else "MISSED"
        print(f"{name:<26} {value:.4f}  target <= {targets[name]}  {verdict}")
    print(f"{len(traces)} traces, {seconds:.0f} s")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "replay.json").write_text(
        json.dumps(
            {"summary": summary, "checks": checks, "targets": targets, "seconds": seconds}, indent=2
        )
    )
    (RESULTS / "replay.html").write_text(render_html(run), encoding="utf-8")


if __name__ == "__main__":
    main()
