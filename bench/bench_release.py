"""Release gate: labelled release scenarios through the judge and a fixed-threshold gate.

Scenarios come from ``nexus_ml.release.scenarios`` (the simulator's demand and metric models in a
mirrored staging run): good releases, +20 % p95 latency, +1 point of 5xx, crash loop, failing
healthcheck, Swarm silent rollback, slow dependency. Both gates run the same interval analysis
(a measurement every ``interval``, abort on the ``failure_limit``-th failed one):

- judge: Mann–Whitney + Hodges–Lehmann band, two-proportion test, weighted score, and the
  release status (a Swarm rollback fails the release whatever the metrics);
- fixed: the Argo/Flagger way, p95 latency / error rate / call latency below set limits, the
  limits calibrated (the most correct verdicts) on the tuning seed.

Seeds: every setting was chosen on TUNING_SEEDS (the judge's bands, the interval and failure
limit, see ``--tune``; the fixed gate's limits on all of them); the figures are reported
on REPORT_SEEDS, never used for a setting. Prints a table and writes
``bench/results/release.json``.

    .venv/bin/python bench/bench_release.py            # the report
    .venv/bin/python bench/bench_release.py --tune     # the interval / failure-limit grid
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from nexus_ml.catalog import load_catalog
from nexus_ml.release.analysis import AnalysisSettings, JudgeGate
from nexus_ml.release.benchmark import (
    MIN_REQUESTS_PER_INTERVAL,
    GateSummary,
    evaluate,
    summarise,
)
from nexus_ml.release.fixed_gate import (
    FixedThresholdGate,
    calibrate_fixed_thresholds,
)
from nexus_ml.release.scenarios import KINDS, generate_scenarios

ROOT = Path(__file__).resolve().parents[1]

TUNING_SEEDS = tuple(range(101, 109))
REPORT_SEEDS = (2027, 2028, 2029)
COUNTS = {k: (24 if k == "good" else 6) for k in KINDS}  # 60 scenarios per seed
GRID = ((300, 2), (450, 2), (600, 1), (600, 2), (900, 1), (360, 3))
OUT = ROOT / "bench" / "results" / "release.json"


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def report(console: Console) -> None:
    catalog = load_catalog()
    settings = AnalysisSettings()
    t0 = time.perf_counter()
    tuning = [sc for seed in TUNING_SEEDS for sc in generate_scenarios(catalog, COUNTS, seed=seed)]
    thresholds = calibrate_fixed_thresholds(tuning, settings)
    scenarios = [
        sc for seed in REPORT_SEEDS for sc in generate_scenarios(catalog, COUNTS, seed=seed)
    ]
    t1 = time.perf_counter()
    outcomes = evaluate(
        scenarios,
        [lambda sc: JudgeGate(), lambda sc: FixedThresholdGate(thresholds, sc.module)],
        settings,
    )
    t2 = time.perf_counter()
    summaries = summarise(outcomes, settings.abort_bound_s)
    bound = settings.abort_bound_s
    table = Table(
        title=(
            f"release gates on {len(scenarios)} scenarios (seeds {REPORT_SEEDS}); "
            f"interval {settings.interval_s:g}s, failure_limit {settings.failure_limit}"
        )
    )
    for column in ("figure", "target", *(s.gate for s in summaries)):
        table.add_column(column)

    def row(figure: str, target: str, values: list[str]) -> None:
        table.add_row(figure, target, *values)

    row("correct verdicts", "≥ 95 %", [pct(s.correct) for s in summaries])
    row("false aborts of good releases", "≤ 5 %", [pct(s.false_aborts) for s in summaries])
    row("silent rollbacks caught", "100 %", [pct(s.rollbacks_caught) for s in summaries])
    row(f"failed within {bound:g}s of the fault", "100 %", [pct(s.within_bound) for s in summaries])
    row(
        f"  … with ≥ {MIN_REQUESTS_PER_INTERVAL} requests/interval",
        "100 %",
        [pct(s.within_bound_busy) for s in summaries],
    )
    row("slowest Failed verdict (s)", "", [f"{s.max_latency_s:g}" for s in summaries])
    row("inconclusive", "", [pct(s.inconclusive) for s in summaries])
    for kind in KINDS:
        row(f"  correct: {kind}", "", [pct(s.caught_by_kind[kind]) for s in summaries])
    console.print(table)
    console.print(
        f"fixed gate limits (calibrated on {len(tuning)} tuning scenarios): p95 < "
        + ", ".join(f"{m} {v:.0f} ms" for m, v in sorted(thresholds.max_latency_ms.items()))
        + f"; error rate < {thresholds.max_error_rate:.1%}"
        + f"; call latency < {thresholds.max_call_latency_ms:g} ms"
    )
    console.print(f"generation {t1 - t0:.1f}s, analysis {t2 - t1:.1f}s")
    judge = next(s for s in summaries if s.gate == "judge")
    console.print("targets (judge):", judge.meets(bound))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "report_seeds": REPORT_SEEDS,
                "tuning_seeds": TUNING_SEEDS,
                "interval_s": settings.interval_s,
                "failure_limit": settings.failure_limit,
                "scenarios": len(scenarios),
                "gates": [_summary_json(s) for s in summaries],
                "fixed_thresholds": asdict(thresholds)
                | {"max_latency_ms": dict(thresholds.max_latency_ms)},
            },
            indent=2,
        )
    )


def _summary_json(summary: GateSummary) -> dict[str, object]:
    return asdict(summary)


def tune(console: Console) -> None:
    """The grid the default interval and failure limit were picked from (tuning seeds only)."""
    catalog = load_catalog()
    sets = [generate_scenarios(catalog, COUNTS, seed=s) for s in TUNING_SEEDS]
    table = Table(title=f"judge on tuning seeds {TUNING_SEEDS}")
    for column in ("interval", "failure_limit", "bound", "correct", "false aborts", "within"):
        table.add_column(column)
    for interval, limit in GRID:
        settings = AnalysisSettings(interval, limit)
        outcomes = [o for sc in sets for o in evaluate(sc, [lambda _: JudgeGate()], settings)]
        s = summarise(outcomes, settings.abort_bound_s)[0]
        table.add_row(
            f"{interval}s",
            str(limit),
            f"{settings.abort_bound_s:g}s",
            pct(s.correct),
            pct(s.false_aborts),
            pct(s.within_bound),
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", action="store_true", help="print the tuning grid instead")
    args = parser.parse_args()
    console = Console()
    if args.tune:
        tune(console)
    else:
        report(console)


if __name__ == "__main__":
    main()
