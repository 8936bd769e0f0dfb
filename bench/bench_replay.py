"""Replay model v1 on ../shared/data/traces/crane: every policy side by side (issue 8 targets).

Prints the summary and the targets check, then the nexus policy's cost/shortage frontier (its
one setting, the under-cost, swept), and writes bench/results/replay.json and replay.html.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from nexus_ml.sim.replay.metrics import ReplayMetrics, score_replay
from nexus_ml.sim.replay.nexus_policy import UNDER_COST, NexusPolicy
from nexus_ml.sim.replay.physics import prepare_trace, replay
from nexus_ml.sim.replay.report import BenchmarkRun, render_html, run_benchmark
from nexus_ml.sim.replay.trace import load_trace

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT.parent / "shared" / "data" / "traces" / "crane"
RESULTS = ROOT / "bench" / "results"


FRONTIER = (12.0, 16.0, 20.0, 24.0, 32.0)


def _nexus_at(job: tuple[Path, float]) -> tuple[str, float, ReplayMetrics]:
    path, under_cost = job
    result = replay(prepare_trace(load_trace(path)), NexusPolicy(under_cost=under_cost))
    return path.stem, under_cost, score_replay(result)


def target_ratios(summary: dict[str, dict[str, float]]) -> dict[str, float]:
    """nexus's τ_U and servable overload vs hpa's, and its replica-hours vs the oracle's."""
    nexus, hpa = summary["nexus"], summary["hpa"]
    return {
        "tau_u_vs_hpa": nexus["tau_u"] / hpa["tau_u"],
        "overload_vs_hpa": nexus["overload_minutes_servable_total"]
        / max(hpa["overload_minutes_servable_total"], 1.0),
        "replica_hours_vs_oracle": nexus["replica_hours_vs_oracle"],
    }


def frontier(traces: list[Path], run: BenchmarkRun) -> dict[float, dict[str, float]]:
    """:func:`target_ratios` of nexus at each under-cost (hpa and oracle from ``run``)."""
    jobs = [(path, u) for u in FRONTIER if u != UNDER_COST for path in traces]
    with ProcessPoolExecutor(max_workers=2) as pool:
        scored = list(pool.map(_nexus_at, jobs))
    runs = {UNDER_COST: run}
    for stem, u, metrics in scored:
        swept = runs.setdefault(u, BenchmarkRun())
        swept.metrics[stem] = {**run.metrics[stem], "nexus": metrics}
    return {u: target_ratios(runs[u].summary()) for u in sorted(runs)}


def main() -> None:
    traces = sorted(TRACES.glob("*.csv"))
    started = time.perf_counter()
    run = run_benchmark(traces)
    seconds = time.perf_counter() - started
    summary = run.summary()
    calibration = run.calibration()
    checks = {**target_ratios(summary), "ece": calibration.ece}
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
    sweep = frontier(traces, run)
    print("\nnexus frontier (under-cost in replica-minutes per short minute; * = default)")
    print(f"{'under_cost':>11} {'tau/hpa':>8} {'over/hpa':>8} {'rh/oracle':>9}")
    for u, v in sweep.items():
        mark = "*" if u == UNDER_COST else " "
        print(
            f"{u:>10.0f}{mark} {v['tau_u_vs_hpa']:8.3f} {v['overload_vs_hpa']:8.3f} "
            f"{v['replica_hours_vs_oracle']:9.4f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "replay.json").write_text(
        json.dumps(
            {
                "summary": summary,
                "checks": checks,
                "targets": targets,
                "seconds": seconds,
                "frontier": {str(u): v for u, v in sweep.items()},
            },
            indent=2,
        )
    )
    (RESULTS / "replay.html").write_text(render_html(run), encoding="utf-8")


if __name__ == "__main__":
    main()
