"""The served policy on the validation series: where its settings may be chosen, never crane.

The issue-12 targets are reported on ``../shared/data/traces/crane`` (``bench_replay.py``), and
no setting of the scaling strategy may be chosen by scoring it there. A candidate is judged
first on two other sets, each with every reference policy in the same run:

- **simulated ERP**: the ERP simulator's requests per minute of the three modules, seeds 123
  and 321, 14 days from Monday 2026-11-02 (business hours in Brazil, month-end peaks);
- **NAB demand-like**: the first 16 days of seven NAB series that look like demand (three real
  ones and four artificial daily ones), resampled to minutes by the replay protocol.

``nexus`` is the service's own path, as in ``bench_replay.py``. Prints one row per set and
writes ``bench/results/replay_validation.json``.

    .venv/bin/python -m bench.bench_replay_validation
"""

from __future__ import annotations

import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from apps.stack.data import data_dir
from nexus_ml.catalog import load_catalog
from nexus_ml.evaluate.replay.report import BenchmarkRun, run_benchmark, target_ratios
from nexus_ml.sim import simulate_history
from pipelines.trace_champion import train_trace_champion

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "replay_validation.json"

SIM_SEEDS = (123, 321)
SIM_START = datetime(2026, 11, 2, tzinfo=UTC)
SIM_DAYS = 14
NAB_DAYS = 16
NAB_SERIES = (
    "realKnownCause/cpu_utilization_asg_misconfiguration",
    "realKnownCause/nyc_taxi",
    "realKnownCause/ec2_request_latency_system_failure",
    "artificialWithAnomaly/art_daily_jumpsup",
    "artificialWithAnomaly/art_daily_jumpsdown",
    "artificialWithAnomaly/art_daily_nojump",
    "artificialNoAnomaly/art_daily_small_noise",
)
POLICIES = ("hpa", "oracle", "nexus")


def _write(path: Path, timestamps: pd.Series, values: pd.Series) -> Path:
    seconds = pd.DatetimeIndex(timestamps).as_unit("s").asi8
    pd.DataFrame({"ts": seconds, "value": values.to_numpy()}).to_csv(path, index=False)
    return path


def simulated_traces(folder: Path) -> list[Path]:
    """One ``ts,value`` file per (seed, module) of the simulated ERP."""
    paths = []
    for seed in SIM_SEEDS:
        frame = simulate_history(load_catalog(), start=SIM_START, days=SIM_DAYS, seed=seed)
        for module, rows in frame.groupby("module"):
            name = folder / f"sim{seed}_{module}.csv"
            paths.append(_write(name, rows["timestamp"], rows["requests_per_min"]))
    return paths


def nab_traces(folder: Path) -> list[Path]:
    """The first ``NAB_DAYS`` days of each NAB series, as ``ts,value`` files."""
    paths = []
    for series in NAB_SERIES:
        frame = pd.read_csv(data_dir() / "anomaly" / "nab" / "data" / f"{series}.csv")
        stamps = pd.to_datetime(frame["timestamp"], utc=True)
        kept = stamps < stamps.iloc[0] + pd.Timedelta(days=NAB_DAYS)
        name = folder / f"nab_{series.split('/')[1]}.csv"
        paths.append(_write(name, stamps[kept], frame.loc[kept, "value"]))
    return paths


def _one(path: Path) -> BenchmarkRun:
    return run_benchmark([path], POLICIES, champion_trainer=train_trace_champion)


def score(paths: list[Path]) -> dict[str, float]:
    """nexus against hpa and the oracle over ``paths`` (two processes)."""
    run = BenchmarkRun()
    with ProcessPoolExecutor(max_workers=2) as pool:
        for part in pool.map(_one, paths):
            run.merge(part)
    calibration = run.calibration()
    return {
        "traces": float(len(paths)),
        **target_ratios(run.summary()),
        "ece": calibration.ece,
        "scale_ups": float(calibration.count),
    }


def main() -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sets = {"simulated ERP": simulated_traces(folder), "NAB demand-like": nab_traces(folder)}
        results = {name: score(paths) for name, paths in sets.items()}
    print(f"{'set':<16} {'traces':>6} {'rh/oracle':>9} {'ev/hpa':>7} {'tau/hpa':>8} {'ECE':>7}")
    for name, r in results.items():
        print(
            f"{name:<16} {r['traces']:6.0f} {r['replica_hours_vs_oracle']:9.4f} "
            f"{r['scale_events_vs_hpa']:7.3f} {r['tau_u_vs_hpa']:8.4f} {r['ece']:7.4f} "
            f"({r['scale_ups']:.0f} scale-ups)"
        )
    seconds = time.perf_counter() - started
    print(f"{seconds:.0f} s in all")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"sets": results, "seconds": seconds}, indent=2) + "\n")


if __name__ == "__main__":
    main()
