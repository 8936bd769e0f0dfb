"""Training time and peak memory of the training pipeline, next to a reference in the same run.

Scenarios (issue 4):
- ``3x28d``: the 3 catalog modules × all 8 fields × 28 days at 1-minute steps (40,320 points
  per series): 24 forecasters and 3 detectors, backtested on the last day, published to a
  folder store.
- ``50mod``: 50 simulated modules (the catalog's profiles cloned) × all fields × 7 days at
  5-minute steps: 400 forecasters and 50 detectors.

Reference, on exactly the same series and with the same fan-out (joblib, 2 processes):
statsmodels ``MSTL`` fit alone (periods daily + weekly where the history allows), i.e. the
decomposition a "plain MSTL" pipeline would need before it could forecast anything.

Each measurement runs in its own Python process so that peak memory is not inherited: we
report wall seconds, the parent's peak RSS and the largest worker's peak RSS
(``getrusage``), and the ratios ours / reference. Prints a table and writes
``bench/results/training.json``.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

OUT = ROOT / "bench" / "results" / "training.json"
N_JOBS = 2
SCENARIOS: dict[str, dict[str, Any]] = {
    # ``mstl_series``: how many of the same series the reference fits (MSTL with a weekly
    # period on 40,320 points takes minutes per series; we report per-series times).
    "3x28d": {"modules": 3, "days": 28, "step_s": 60, "mstl_series": 2},
    "50mod": {"modules": 50, "days": 7, "step_s": 300, "mstl_series": 16},
}


def _catalog(n: int) -> Any:
    from nexus_ml.catalog import load_catalog
    from nexus_ml.catalog.schema import Catalog

    bundled = load_catalog()
    if n <= len(bundled.modules):
        return Catalog(modules=bundled.modules[:n])
    clones = [
        p.model_copy(update={"name": f"nexus-sim{i:02d}", "depends_on": ()})
        for i, p in ((i, bundled.modules[i % len(bundled.modules)]) for i in range(n))
    ]
    return Catalog(modules=tuple(clones))


def _history(spec: dict[str, Any]) -> tuple[Any, Any, datetime]:
    from nexus_ml.sim import simulate_history

    catalog = _catalog(spec["modules"])
    frame = simulate_history(
        catalog, start=datetime(2026, 10, 1), days=spec["days"], step_s=spec["step_s"], seed=11
    )
    end = (frame["timestamp"].max() + timedelta(seconds=spec["step_s"])).to_pydatetime()
    return catalog, frame, end


def _peaks() -> dict[str, float]:
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)  # workers must exit for RUSAGE_CHILDREN
    to_mb = 1 / 1024  # ru_maxrss is in KiB on Linux
    return {
        "parent_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * to_mb,
        "worker_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * to_mb,
    }


def child_ours(name: str) -> dict[str, Any]:
    from nexus_ml.ingest.frame_source import FrameSource
    from nexus_ml.models.registry.local_store import LocalModelStore
    from pipelines.train import TrainConfig, train

    spec = SCENARIOS[name]
    catalog, frame, end = _history(spec)
    config = TrainConfig(
        modules=catalog.names,
        days=spec["days"],
        step=timedelta(seconds=spec["step_s"]),
        n_jobs=N_JOBS,
    )
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        report = train(FrameSource(frame), LocalModelStore(Path(tmp)), config, end=end)
        seconds = time.perf_counter() - began
    statuses = [o.status for o in report.outcomes]
    series = len(catalog.names) * len(config.forecast_fields)
    return {
        "seconds": seconds,
        "seconds_per_series": seconds / series,
        "series": series,
        "detectors": len(catalog.names),
        "points_per_series": round(spec["days"] * 86400 / spec["step_s"]),
        "promoted": statuses.count("promoted"),
        "challenger": statuses.count("challenger"),
        "mean_mase": sum(o.mase for o in report.outcomes) / len(report.outcomes),
        **_peaks(),
    }


def _mstl_fit(values: Any, periods: tuple[int, ...]) -> float:
    from statsmodels.tsa.seasonal import MSTL

    result = MSTL(values, periods=periods).fit()
    return float(result.resid[-1])


def child_reference(name: str) -> dict[str, Any]:
    from joblib import Parallel, delayed

    from nexus_ml.domain.metrics import METRIC_FIELDS
    from nexus_ml.models.training.fanout import module_frame

    spec = SCENARIOS[name]
    catalog, frame, end = _history(spec)
    step = timedelta(seconds=spec["step_s"])
    import pandas as pd

    end_ts = pd.Timestamp(end)
    start_ts = end_ts - pd.Timedelta(days=spec["days"])
    day = round(timedelta(days=1) / step)
    n = round(spec["days"] * day) - day  # the same training part as ours: before the backtest day
    periods = (day, 7 * day) if n >= 2 * 7 * day else (day,)
    series = []
    for module in catalog.names:
        wide = module_frame(frame, module, METRIC_FIELDS, start_ts, end_ts, step)
        series.extend(wide[f].to_numpy()[:n] for f in METRIC_FIELDS)
    # The demand series first: the ones a forecast-driven scaler needs.
    series = series[7 :: len(METRIC_FIELDS)] + series[0 :: len(METRIC_FIELDS)] + series
    series = series[: spec["mstl_series"]]
    began = time.perf_counter()
    Parallel(n_jobs=N_JOBS)(delayed(_mstl_fit)(values, periods) for values in series)
    seconds = time.perf_counter() - began
    return {
        "seconds": seconds,
        "series": len(series),
        "seconds_per_series": seconds / len(series),
        "periods": list(periods),
        **_peaks(),
    }


def run_child(kind: str, name: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_training", "--child", kind, name],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} {name} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    results: dict[str, Any] = {"n_jobs": N_JOBS, "scenarios": {}}
    table = Table(title=f"Training time and peak memory (joblib, {N_JOBS} processes)")
    for col in (
        "scenario",
        "series",
        "ours s",
        "ours s/series",
        "MSTL s/series (n)",
        "time ratio",
        "ours worker MB",
        "MSTL worker MB",
        "mem ratio",
        "ours parent MB",
        "promoted",
    ):
        table.add_column(col)
    chosen = os.environ.get("BENCH_TRAINING_SCENARIOS", ",".join(SCENARIOS)).split(",")
    for name in chosen:
        console.log(f"{name}: our pipeline")
        ours = run_child("ours", name)
        console.log(f"{name}: MSTL reference")
        ref = run_child("reference", name)
        ratios = {
            "time_per_series": ours["seconds_per_series"] / ref["seconds_per_series"],
            "worker_memory": ours["worker_peak_mb"] / ref["worker_peak_mb"],
            "parent_memory": ours["parent_peak_mb"] / ref["parent_peak_mb"],
        }
        results["scenarios"][name] = {
            "spec": SCENARIOS[name],
            "ours": ours,
            "mstl": ref,
            "ratios": ratios,
        }
        table.add_row(
            name,
            str(ours["series"]),
            f"{ours['seconds']:.1f}",
            f"{ours['seconds_per_series']:.2f}",
            f"{ref['seconds_per_series']:.2f} ({ref['series']})",
            f"{ratios['time_per_series']:.3f}",
            f"{ours['worker_peak_mb']:.0f}",
            f"{ref['worker_peak_mb']:.0f}",
            f"{ratios['worker_memory']:.2f}",
            f"{ours['parent_peak_mb']:.0f}",
            f"{ours['promoted']}/{ours['promoted'] + ours['challenger']}",
        )
    console.print(table)
    console.print(
        "ours = fetch + fit + 1-day backtest + update + detectors + plots + publish, divided by "
        "the forecast series; MSTL = decomposition fit only, on the first n of the same series "
        "(demand first), same fan-out."
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        kind, scenario = sys.argv[2], sys.argv[3]
        out = child_ours(scenario) if kind == "ours" else child_reference(scenario)
        print(json.dumps(out))
    else:
        main()
