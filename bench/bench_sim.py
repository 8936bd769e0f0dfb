"""ERP simulator speed: 28 days of one-minute history for 3 and 50 modules.

Measures, in the same run (best of ``REPEATS``):
- ``simulate_history`` for the bundled catalog (3 modules) and a synthetic 50-module catalog;
- reference "numpy random": drawing as many standard normals as the frame has values
  (rows × 10 numeric columns), the floor cost of producing that much random data;
- reference "numpy + frame": the same draw wrapped in a pandas frame with the same columns
  (module, UTC timestamp, 10 numeric), the floor cost of producing that frame;
- the step-wise simulator (``ErpSimulator.observe``, one instant at a time, as the live exporter
  uses it) on one day of the bundled catalog, to show what vectorising buys.
Prints a table and writes ``bench/results/sim.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from nexus_ml.catalog import Catalog, ModuleProfile, load_catalog
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.sim import ErpSimulator, simulate_history

ROOT = Path(__file__).resolve().parents[1]

DAYS = 28
START = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
REPEATS = 3
OUT = ROOT / "bench" / "results" / "sim.json"
NUMERIC = len(METRIC_FIELDS) + 2  # + replicas, demand_rpm


def synthetic_catalog(n: int) -> Catalog:
    """``n`` modules modelled on the bundled three, each depending on up to two earlier ones."""
    seeds = load_catalog().modules
    rng = np.random.default_rng(0)
    modules = []
    for i in range(n):
        base = seeds[i % len(seeds)]
        deps = tuple(f"nexus-m{j:02d}" for j in sorted({i // 2, i // 3}) if j < i)
        data = base.model_dump(by_alias=True)
        data.update(
            name=f"nexus-m{i:02d}",
            display_name=f"Module {i}",
            schema=f"m{i:02d}",
            port=6000 + i,
            depends_on=deps,
            client_share=float(rng.uniform(0.1, 1.0)),
        )
        modules.append(ModuleProfile.model_validate(data))
    return Catalog(modules=tuple(modules))


def best_of(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


def numpy_random(rows: int) -> None:
    np.random.default_rng(0).standard_normal((rows, NUMERIC))


def numpy_frame(rows: int, modules: int) -> None:
    values = np.random.default_rng(0).standard_normal((NUMERIC, rows))
    per = rows // modules
    ts = pd.to_datetime(
        START.timestamp() + np.tile(np.arange(per) * 60, modules), unit="s", utc=True
    )
    columns: dict[str, object] = {"module": np.repeat([f"m{i}" for i in range(modules)], per)}
    columns["timestamp"] = ts
    columns.update({f"c{i}": values[i] for i in range(NUMERIC)})
    pd.DataFrame(columns)


def main() -> None:
    results: dict[str, dict[str, float]] = {}
    for label, catalog in (("3 mods", load_catalog()), ("50 mods", synthetic_catalog(50))):
        n = len(catalog.modules)
        rows = DAYS * 1440 * n
        sim = best_of(lambda c=catalog: simulate_history(c, start=START, days=DAYS, seed=0))
        ref_rng = best_of(lambda r=rows: numpy_random(r))
        ref_frame = best_of(lambda r=rows, m=n: numpy_frame(r, m))
        results[label] = {
            "modules": n,
            "rows": rows,
            "simulate_s": sim,
            "numpy_random_s": ref_rng,
            "numpy_frame_s": ref_frame,
            "rows_per_s": rows / sim,
            "ratio_vs_numpy_random": sim / ref_rng,
            "ratio_vs_numpy_frame": sim / ref_frame,
        }

    catalog = load_catalog()
    sim_live = ErpSimulator(catalog, seed=0)
    replicas = {m.name: m.min_replicas for m in catalog}
    instants = [START + timedelta(minutes=i) for i in range(1440)]
    began = time.perf_counter()
    for now in instants:
        sim_live.observe(now, replicas)
    step = time.perf_counter() - began
    vector = best_of(lambda: simulate_history(catalog, start=START, days=1, seed=0))
    step_rows = len(instants) * len(catalog.modules)
    results["step-wise, 1 day × 3 modules"] = {
        "modules": len(catalog.modules),
        "rows": step_rows,
        "simulate_s": step,
        "vectorised_s": vector,
        "rows_per_s": step_rows / step,
        "ratio_vs_vectorised": step / vector,
        "observe_us_per_call": step / len(instants) * 1e6,
    }

    table = Table(title=f"ERP simulator: {DAYS} days × 1 minute (best of {REPEATS})")
    for col in ("case", "rows", "sim", "rows/s", "rng ref", "× rng", "frame ref", "× frame"):
        table.add_column(col, justify="left" if col == "case" else "right", no_wrap=True)
    for label, r in results.items():
        if "numpy_random_s" in r:
            table.add_row(
                label,
                f"{r['rows']:,.0f}",
                f"{r['simulate_s']:.2f} s",
                f"{r['rows_per_s']:,.0f}",
                f"{r['numpy_random_s']:.3f} s",
                f"{r['ratio_vs_numpy_random']:.1f}×",
                f"{r['numpy_frame_s']:.3f} s",
                f"{r['ratio_vs_numpy_frame']:.1f}×",
            )
    console = Console()
    console.print(table)
    console.print(
        "rng ref: drawing as many normals as the frame has values; frame ref: the same in a "
        "pandas frame with the same columns; × = simulator time / reference time"
    )
    live = results["step-wise, 1 day × 3 modules"]
    console.print(
        f"step-wise ErpSimulator.observe: {live['observe_us_per_call']:,.0f} µs per call "
        f"(3 modules), {live['rows_per_s']:,.0f} rows/s, {live['ratio_vs_vectorised']:.0f}× "
        f"slower than simulate_history on the same day ({live['vectorised_s']:.3f} s)"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
