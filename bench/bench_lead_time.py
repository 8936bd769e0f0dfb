"""Lead-time risk: reliability of the quantiles the decision core reads, settings out of fold.

The decision core reads the peak demand over the next L + 1 minutes and the demand at the
minute a replica started now is ready, at the median and at the break-even level 1 − 1/20
(``nexus_ml.evaluate.lead_time_selection.DECISION_LEVELS``). On the eight Crane CPU traces at
1-minute steps (lead time 2 minutes, as the replay benchmark), each candidate of
``LEAD_TIME_CANDIDATES`` is streamed causally over every trace after a two-day warm-up. For
each held-out trace the setting is the one with the lowest mean pinball loss at the decision
levels on the other seven; the reliability table gives nominal vs observed coverage per level
and distribution, out of fold and for the in-sample choice (the shipped default).
Prints the tables and writes ``bench/results/lead_time.json``. ``BENCH_TRACES=input0,input1``
restricts the traces (while iterating).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from apps.stack.data import data_dir
from nexus_ml.evaluate.forecast_backtest import read_trace, trace_files
from nexus_ml.evaluate.lead_time_selection import (
    DECISION_LEVELS,
    LEAD_TIME_CANDIDATES,
    MODELS,
    RELIABILITY_LEVELS,
    leave_one_trace_out,
    one_step_scale,
    run_candidates,
)
from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk

ROOT = Path(__file__).resolve().parents[1]

DATA = data_dir() / "traces" / "crane"  # $NEXUS_DATA_DIR, else ../shared/data
OUT = ROOT / "bench" / "results" / "lead_time.json"
LEAD_TIME = 2  # minutes, the replay benchmark's start-up delay
WARMUP = 2 * 1440  # two days fitted before the first scored origin
TOLERANCE = 0.02  # |observed − nominal| coverage that counts as calibrated


def main() -> None:
    console = Console(width=140)
    started = time.perf_counter()
    wanted = [t for t in os.environ.get("BENCH_TRACES", "").split(",") if t]
    series = {
        p.stem: read_trace(p).to_numpy(dtype=float)
        for p in trace_files(DATA)
        if not wanted or p.stem in wanted
    }
    scales = {name: one_step_scale(y) for name, y in series.items()}
    runs = run_candidates(series, LEAD_TIME_CANDIDATES, lead_time=LEAD_TIME, warmup=WARMUP)
    choice = leave_one_trace_out(runs, scales)
    default = LeadTimeRisk()
    shipped = {"calib_window": default.calib_window, "vol_window": default.vol_window}
    chosen = LEAD_TIME_CANDIDATES[choice["in_sample_choice"]]

    table = Table(title=f"Lead-time quantiles, coverage (L = {LEAD_TIME} min, 8 Crane traces)")
    for col in (
        "level",
        "window out-of-fold",
        "window in-sample",
        "ready out-of-fold",
        "ready in-sample",
        "decision core reads it",
    ):
        table.add_column(col, justify="right")
    calibrated = True
    for i, q in enumerate(RELIABILITY_LEVELS):
        oof = {m: choice["coverage_out_of_fold"][m][i] for m in MODELS}
        ins = {m: choice["coverage_in_sample"][m][i] for m in MODELS}
        if q in DECISION_LEVELS:
            calibrated &= all(abs(v - q) <= TOLERANCE for v in oof.values())
        table.add_row(
            f"{q:.2f}",
            f"{oof['window']:.4f}",
            f"{ins['window']:.4f}",
            f"{oof['ready']:.4f}",
            f"{ins['ready']:.4f}",
            "yes" if q in DECISION_LEVELS else "",
        )
    console.print(table)
    cands = Table(title="Candidates (pooled over traces)")
    for col in ("candidate", "loss / one-step change", "window cov 0.95", "ready cov 0.95"):
        cands.add_column(col, justify="right")
    j = RELIABILITY_LEVELS.index(0.95)
    for key, loss in choice["loss_by_candidate"].items():
        cov = choice["coverage_by_candidate"][key]
        cands.add_row(key, f"{loss:.4f}", f"{cov['window'][j]:.4f}", f"{cov['ready'][j]:.4f}")
    console.print(cands)
    seconds = {m: sum(runs[t][choice["in_sample_choice"]][m].seconds for t in runs) for m in MODELS}
    rows = sum(runs[t][choice["in_sample_choice"]]["window"].covered.shape[0] for t in runs)
    result = {
        "lead_time": LEAD_TIME,
        "warmup": WARMUP,
        "traces": sorted(series),
        "selection": choice,
        "shipped_default": shipped,
        "shipped_default_is_in_sample_choice": shipped == chosen,
        "decision_levels_within_tolerance_out_of_fold": calibrated,
        "tolerance": TOLERANCE,
        "ms_per_step": {m: 1e3 * s / rows for m, s in seconds.items()},
        "wall_seconds": time.perf_counter() - started,
    }
    console.print(
        f"setting per held-out trace: {choice['folds']}; in-sample choice "
        f"{choice['in_sample_choice']} (shipped default {shipped}: "
        f"{'same' if shipped == chosen else 'DIFFERENT'}); decision levels "
        f"{DECISION_LEVELS} within ±{TOLERANCE} out of fold: {calibrated}; ms per step "
        f"{ {m: round(v, 3) for m, v in result['ms_per_step'].items()} }"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2, default=float))
    console.print(f"written {OUT}")


if __name__ == "__main__":
    main()
