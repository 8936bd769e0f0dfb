"""Replay model v1 on ../shared/data/traces/crane: the served policy against the references.

``nexus`` is the decision service's own path (``nexus_ml.engine.DecisionEngine.decide`` and
the executor's guardrails, in process), with a champion trained on each trace's history by
the real training pipeline. Prints the summary, the targets check (issue 8 and 12) and the
time per decision, and writes bench/results/replay.json and replay.html. ``--frontier`` also
sweeps the strategy's one setting, the under-cost (slow: one more replay of every trace per
value).
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from apps.stack.data import data_dir
from nexus_ml.decide.strategy import UNDER_COST
from nexus_ml.evaluate.replay.metrics import ReplayMetrics, score_replay
from nexus_ml.evaluate.replay.nexus_policy import NexusPolicy
from nexus_ml.evaluate.replay.physics import prepare_trace, replay
from nexus_ml.evaluate.replay.report import (
    BenchmarkRun,
    render_html,
    run_benchmark,
    target_ratios,
)
from nexus_ml.evaluate.replay.trace import load_trace
from pipelines.trace_champion import train_trace_champion

ROOT = Path(__file__).resolve().parents[1]
TRACES = data_dir() / "traces" / "crane"  # $NEXUS_DATA_DIR, else ../shared/data
RESULTS = ROOT / "bench" / "results"

FRONTIER = (12.0, 16.0, 20.0, 24.0, 32.0)
TARGETS = {
    "tau_u_vs_hpa": 0.25,
    "overload_vs_hpa": 0.25,
    "replica_hours_vs_oracle": 1.10,
    "ece": 0.05,
    "scale_events_vs_hpa": 1.0,
}


def _one_trace(path: Path) -> BenchmarkRun:
    return run_benchmark([path], champion_trainer=train_trace_champion)


def _nexus_at(job: tuple[Path, float]) -> tuple[str, float, ReplayMetrics]:
    path, under_cost = job
    policy = NexusPolicy(train_trace_champion, under_cost=under_cost)
    return path.stem, under_cost, score_replay(replay(prepare_trace(load_trace(path)), policy))


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


def long_trace_seconds(scored_minutes: int = 20_000) -> dict[str, float]:
    """Wall time of the served policy over one simulated trace of ``scored_minutes`` after
    the 7-day history (the ERP simulator's CRM demand): training, then the replay itself."""
    from datetime import UTC, datetime

    import pandas as pd

    from nexus_ml.catalog import load_catalog
    from nexus_ml.sim import simulate_history

    days = 7 + scored_minutes / 1440
    frame = simulate_history(
        load_catalog(), start=datetime(2026, 9, 1, tzinfo=UTC), days=days, seed=2026
    )
    rows = frame[frame["module"] == "nexus-crm"].set_index("timestamp")["requests_per_min"]
    trace = prepare_trace(pd.Series(rows.to_numpy(), index=rows.index, name="crm-long"))
    policy = NexusPolicy(train_trace_champion)
    started = time.perf_counter()
    result = replay(trace, policy)
    total = time.perf_counter() - started
    return {
        "scored_minutes": float(len(result.targets)),
        "replay_s": total,
        "decisions_s": policy.decision_seconds,
        "training_and_setup_s": total - policy.decision_seconds,
    }


def main() -> None:
    traces = sorted(TRACES.glob("*.csv"))
    started = time.perf_counter()
    run = BenchmarkRun()
    with ProcessPoolExecutor(max_workers=2) as pool:
        for part in pool.map(_one_trace, traces):
            run.merge(part)
    seconds = time.perf_counter() - started
    summary = run.summary()
    calibration = run.calibration()
    checks = {**target_ratios(summary), "ece": calibration.ece}
    chance_mean, chance_p95 = calibration.chance_ece()
    header = ("tau_u", "theta_u", "overload", "rh/oracle", "events")
    print(f"{'policy':<12} " + " ".join(f"{h:>9}" for h in header))
    for policy, v in summary.items():
        print(
            f"{policy:<12} {v['tau_u']:9.2f} {v['theta_u']:9.2f} "
            f"{v['overload_minutes_servable_total']:9.0f} {v['replica_hours_vs_oracle']:9.3f} "
            f"{v['scale_events']:9.0f}"
        )
    for name, value in checks.items():
        verdict = "ok" if value <= TARGETS[name] else "MISSED"
        print(f"{name:<26} {value:.4f}  target <= {TARGETS[name]}  {verdict}")
    print(
        f"ECE of a perfectly calibrated confidence on the same {calibration.count} scale-ups "
        f"(chance alone): {chance_mean:.4f} on average, {chance_p95:.4f} at the 95th percentile"
    )
    per_decision = {t: round(ms, 3) for t, ms in sorted(run.decision_ms.items())}
    longest = max(len(r["nexus"].targets) for r in run.results.values())
    print(f"nexus: ms per decision (engine, in process) by trace: {per_decision}")
    print(f"{len(traces)} traces (longest scored: {longest} min), {seconds:.0f} s in all")
    long_run = long_trace_seconds()
    print(
        f"one {long_run['scored_minutes']:.0f}-minute trace on the served path: "
        f"{long_run['replay_s']:.1f} s in all (target <= 60), of which "
        f"{long_run['decisions_s']:.1f} s deciding"
    )
    sweep = frontier(traces, run) if "--frontier" in sys.argv else {}
    if sweep:
        print("\nnexus frontier (under-cost in replica-minutes per short minute; * = default)")
        print(f"{'under_cost':>11} {'tau/hpa':>8} {'over/hpa':>8} {'rh/oracle':>9} {'ev/hpa':>7}")
        for u, v in sweep.items():
            mark = "*" if u == UNDER_COST else " "
            print(
                f"{u:>10.0f}{mark} {v['tau_u_vs_hpa']:8.3f} {v['overload_vs_hpa']:8.3f} "
                f"{v['replica_hours_vs_oracle']:9.4f} {v['scale_events_vs_hpa']:7.3f}"
            )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "replay.json").write_text(
        json.dumps(
            {
                "summary": summary,
                "checks": checks,
                "ece_chance": {"mean": chance_mean, "p95": chance_p95},
                "targets": TARGETS,
                "seconds": seconds,
                "decision_ms": per_decision,
                "long_trace": long_run,
                "frontier": {str(u): v for u, v in sweep.items()},
            },
            indent=2,
        )
    )
    (RESULTS / "replay.html").write_text(render_html(run), encoding="utf-8")


if __name__ == "__main__":
    main()
