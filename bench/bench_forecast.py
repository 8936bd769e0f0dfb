"""Forecast protocol v1 on the Crane CPU traces: our forecaster vs the references, same run.

Prints the table and writes ``bench/results/forecast.json``: per-trace and aggregate relative
MASE (geometric mean vs the seasonal naive), 80 % coverage, width / scale and fit + predict
seconds for ``nexus``, ``seasonal_naive`` and ``statsforecast_mstl`` (../shared/BENCHMARKS.md),
plus the latency of one per-minute ``predict(context=...)`` call and ratios against the
statsforecast reference.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nexus_ml.cli.forecast import scores_table  # noqa: E402
from nexus_ml.models.backtest import read_trace, run_backtest  # noqa: E402
from nexus_ml.models.forecaster import SeasonalForecaster  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "traces" / "crane"
OUT = ROOT / "bench" / "results" / "forecast.json"


def context_latency(path: Path, repeats: int = 200) -> dict[str, float]:
    """Median seconds of ``predict(15, context=last day)`` on a 1-minute trace, fitted on 7 days."""
    series = read_trace(path).resample("1min").mean().ffill()
    train = series.iloc[-9 * 1440 : -2 * 1440]
    context = series.iloc[-2 * 1440 : -1440]
    model = SeasonalForecaster().fit(train)
    model.predict(15, levels=(80,), context=context)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict(15, levels=(80,), context=context)
        times.append(time.perf_counter() - started)
    return {
        "median_ms": 1000 * float(np.median(times)),
        "p95_ms": 1000 * float(np.quantile(times, 0.95)),
    }


def main() -> None:
    console = Console()
    started = time.perf_counter()
    report = run_backtest(DATA, on_trace=lambda name: console.log(f"trace {name} done"))
    result = report.to_json()
    agg = result["aggregate"]
    result["ratios"] = {
        "relative_mase_nexus_over_mstl": agg["nexus"]["relative_mase"]
        / agg["statsforecast_mstl"]["relative_mase"],
        "seconds_nexus_over_mstl": agg["nexus"]["seconds"] / agg["statsforecast_mstl"]["seconds"],
    }
    result["predict_with_context"] = context_latency(DATA / "input1.csv")
    result["targets"] = {
        "relative_mase_below_mstl": result["ratios"]["relative_mase_nexus_over_mstl"] < 1,
        "coverage80_in_75_85": 0.75 <= agg["nexus"]["coverage80"] <= 0.85,
        "not_slower_than_mstl": result["ratios"]["seconds_nexus_over_mstl"] <= 1,
    }
    result["wall_seconds"] = time.perf_counter() - started
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    console.print(scores_table(result))
    console.print(pd.Series(result["ratios"]).to_string())
    console.print(f"predict(context=1 day, h=15) at 1-min steps: {result['predict_with_context']}")
    console.print(f"targets: {result['targets']}")
    console.print(f"written {OUT}")


if __name__ == "__main__":
    main()
