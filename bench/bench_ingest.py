"""Ingest benchmark: 14 days x 3 modules x every field at 1-minute steps from a real Prometheus.

Simulated history is backfilled with promtool into a fresh TSDB, a throwaway Prometheus is
started over it, and the same data is fetched, in the same run, by:

- ``PrometheusSource`` (chunked range queries, all modules per query, 4 in flight), and with
  one query in flight, to separate batching from concurrency; and with a catalog of bare
  selectors instead of ``last_over_time(...[step - 1ms])``, to price the honest-gaps choice;
- the reference asking for uncompressed answers too, to show where the speed-up comes from;
- the reference: one plain ``httpx`` ``query_range`` per series (module x field) by hand, split
  only as Prometheus' 11,000-point limit forces, parsed with ``json`` + numpy, sequentially.

Each method runs ``REPEATS`` times (interleaved); the median wall time is reported with rows/s
(a row = one module at one minute, all fields) and the ratio to the reference. The reference's
values are checked equal to ours. Writes ``bench/results/ingest.json``.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from nexus_ml.catalog import load_catalog
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.ingest.backfill import backfill
from nexus_ml.ingest.prometheus_source import PrometheusSource
from nexus_ml.ingest.promserver import LocalPrometheus
from nexus_ml.ingest.queries import QueryCatalog, load_query_catalog
from nexus_ml.ingest.timegrid import PROMETHEUS_MAX_POINTS, aligned_grid, plan_chunks
from nexus_ml.sim import simulate_history

ROOT = Path(__file__).resolve().parents[1]

OUT = ROOT / "bench" / "results" / "ingest.json"
DAYS = 14
REPEATS = 3
STEP = timedelta(minutes=1)


def reference_fetch(
    url: str,
    modules: list[str],
    start: datetime,
    end: datetime,
    headers: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One plain query_range per (module, field) series, split only at the point limit."""
    grid = aligned_grid(start, end, STEP)
    chunks = plan_chunks(grid, PROMETHEUS_MAX_POINTS)
    columns: dict[str, list[np.ndarray]] = {f: [] for f in METRIC_FIELDS}
    with httpx.Client(base_url=url, timeout=60, headers=headers) as client:
        for module in modules:
            for f in METRIC_FIELDS:
                parts = []
                for c in chunks:
                    r = client.get(
                        "/api/v1/query_range",
                        params={
                            "query": f'nexus:{f}{{module="{module}"}}',
                            "start": c.start,
                            "end": c.end,
                            "step": c.step,
                        },
                    )
                    r.raise_for_status()
                    (series,) = json.loads(r.content)["data"]["result"]
                    parts.append(np.asarray(series["values"], dtype=float)[:, 1])
                columns[f].append(np.concatenate(parts))
    data: dict[str, object] = {
        "module": np.repeat(modules, grid.points),
        "timestamp": np.tile(grid.timestamps(), len(modules)),
    }
    data.update({f: np.concatenate(columns[f]) for f in METRIC_FIELDS})
    return pd.DataFrame(data)


def timed(fn: Callable[[], pd.DataFrame]) -> tuple[float, pd.DataFrame]:
    began = time.perf_counter()
    frame = fn()
    return time.perf_counter() - began, frame


def main() -> None:
    console = Console()
    catalog = load_catalog()
    modules = list(catalog.names)
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    start = end - timedelta(days=DAYS) + STEP
    with tempfile.TemporaryDirectory(prefix="nexus-bench-ingest-") as tmp:
        began = time.perf_counter()
        history = simulate_history(catalog, start=start, days=DAYS)
        sim_s = time.perf_counter() - began
        began = time.perf_counter()
        result = backfill(history, Path(tmp) / "tsdb")
        backfill_s = time.perf_counter() - began
        console.log(f"backfilled {result.samples} samples in {len(result.blocks)} blocks")
        with LocalPrometheus(Path(tmp) / "tsdb") as prom:
            ours = PrometheusSource(prom.url, timeout_s=60, concurrency=4)
            ours_serial = PrometheusSource(prom.url, timeout_s=60, concurrency=1)
            bare = QueryCatalog(
                fields={f: f'nexus:{f}{{module=~"{{modules}}"}}' for f in METRIC_FIELDS},
                counter_resets=load_query_catalog().counter_resets,
            )
            ours_bare = PrometheusSource(prom.url, timeout_s=60, concurrency=4, catalog=bare)
            methods: dict[str, Callable[[], pd.DataFrame]] = {
                "PrometheusSource (4 in flight)": lambda: ours.fetch(modules, start, end).frame,
                "PrometheusSource (1 in flight)": lambda: (
                    ours_serial.fetch(modules, start, end).frame
                ),
                "PrometheusSource, bare selectors (4 in flight)": lambda: (
                    ours_bare.fetch(modules, start, end).frame
                ),
                "reference: httpx query_range per series": lambda: reference_fetch(
                    prom.url, modules, start, end
                ),
                "reference, uncompressed (Accept-Encoding: identity)": lambda: reference_fetch(
                    prom.url, modules, start, end, {"Accept-Encoding": "identity"}
                ),
            }
            for fn in methods.values():  # warm the page cache and the server's caches
                fn()
            times: dict[str, list[float]] = {name: [] for name in methods}
            frames: dict[str, pd.DataFrame] = {}
            for _ in range(REPEATS):
                for name, fn in methods.items():
                    seconds, frames[name] = timed(fn)
                    times[name].append(seconds)
    ref_name = "reference: httpx query_range per series"
    ours_frame = frames["PrometheusSource (4 in flight)"].sort_values(["module", "timestamp"])
    ref_frame = frames[ref_name].sort_values(["module", "timestamp"])
    want = history.sort_values(["module", "timestamp"])
    for f in METRIC_FIELDS:  # same data, and exactly what was written
        np.testing.assert_allclose(ours_frame[f].to_numpy(), ref_frame[f].to_numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours_frame[f].to_numpy(), want[f].to_numpy(), rtol=1e-12)
    rows = len(ours_frame)
    ref_s = statistics.median(times[ref_name])
    table = Table(title=f"ingest: {DAYS} d x {len(modules)} modules x {len(METRIC_FIELDS)} fields")
    for col in ("method", "median s", "rows/s", "values/s", "speed-up vs reference"):
        table.add_column(col)
    results = {}
    for name, ts in times.items():
        med = statistics.median(ts)
        results[name] = {
            "seconds_median": med,
            "seconds_all": ts,
            "rows_per_s": rows / med,
            "values_per_s": rows * len(METRIC_FIELDS) / med,
            "speedup_vs_reference": ref_s / med,
        }
        table.add_row(
            name,
            f"{med:.2f}",
            f"{rows / med:,.0f}",
            f"{rows * len(METRIC_FIELDS) / med:,.0f}",
            f"{ref_s / med:.2f}x",
        )
    console.print(table)
    console.print(
        f"simulate {sim_s:.1f} s; backfill (OpenMetrics + promtool) {backfill_s:.1f} s for "
        f"{result.samples:,} samples ({result.samples / backfill_s:,.0f} samples/s)"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps(
            {
                "protocol": f"{DAYS} days x {len(modules)} modules x {len(METRIC_FIELDS)} fields, "
                "1-minute steps, backfilled simulated history, local Prometheus",
                "rows": rows,
                "repeats": REPEATS,
                "methods": results,
                "ratio_ours_over_reference_seconds": results["PrometheusSource (4 in flight)"][
                    "seconds_median"
                ]
                / ref_s,
                "backfill": {"samples": result.samples, "seconds": backfill_s},
            },
            indent=2,
        )
    )
    console.print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
