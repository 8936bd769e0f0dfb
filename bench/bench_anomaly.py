"""Anomaly detection on NAB (development subset) and the labelled Microsoft series.

In the same run:
- NAB: our detector runs causally over every file (``run_corpus``, 2 processes) and is scored
  with our NAB scorer on the three profiles; the published ``numenta`` (HTM) and
  ``windowedGaussian`` result files are scored by the same scorer, next to NAB's official numbers;
  a reference "robust z" detector (trailing median/MAD z-score, 1 − e^(−|z|/4)) runs too.
- Microsoft cloud monitoring (``TimeStamp,Value,Label``): point labels become NAB windows as NAB's
  labeller makes them (10 % of the file / number of labels, centred, touching windows merged);
  our detector and the robust z reference, fitted on the probationary rows like NAB, scored the
  same way; windows found per domain at the standard threshold show where each detector wins.
- Fit time: one module's training frame (8 days at 1 min × 8 metric fields, simulated), as the
  service and the demo fit it, next to an IsolationForest fitted on the same frame (reference).
Prints tables and writes ``bench/results/anomaly.json``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nexus_ml.models.nab.corpus import load_results, read_windows  # noqa: E402
from nexus_ml.models.nab.labels import labelled_series, read_labelled_series  # noqa: E402
from nexus_ml.models.nab.runner import DETECTORS, run_corpus  # noqa: E402
from nexus_ml.models.nab.scoring import (  # noqa: E402
    PROFILES,
    LabelledSeries,
    ProfileResult,
    probationary_length,
    score_corpus,
)

DATA = ROOT.parent / "shared" / "data" / "anomaly"
NAB = DATA / "nab"
MS = DATA / "ms-cloud-monitoring"
OUT = ROOT / "bench" / "results" / "anomaly.json"


def scores_row(results: Mapping[str, ProfileResult]) -> dict[str, float]:
    return {p.name: float(results[p.name].normalised) for p in PROFILES}


def bench_nab(console: Console) -> dict[str, object]:
    windows = read_windows(NAB / "labels" / "combined_windows.json")
    n_windows = sum(len(w) for w in windows.values())
    official = json.loads(
        (NAB / "reference_results" / "official_scores_dev_subset.json").read_text()
    )
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("nexus", "robust_z"):
            started = time.perf_counter()
            runs = run_corpus(NAB / "data", Path(tmp) / name, detector=name, n_jobs=2)
            wall = time.perf_counter() - started
            series = load_results(Path(tmp) / name, windows)
            results = score_corpus(series, n_labelled_windows=n_windows)
            report[name] = {
                **scores_row(results),
                "seconds_wall": wall,
                "seconds_cpu": sum(r.seconds for r in runs),
                "rows": sum(r.rows for r in runs),
                "threshold": results["standard"].threshold,
                "windows_found": results["standard"].tp,
                "fp_rows": results["standard"].fp,
            }
    for name in ("numenta", "windowedGaussian"):
        series = load_results(NAB / "reference_results" / name, windows)
        report[name] = {
            **scores_row(score_corpus(series, n_labelled_windows=n_windows)),
            "official": official[name],
        }
    report["published_dev_subset_standard"] = {
        k: v["standard"] for k, v in official.items() if k != "null"
    }

    table = Table(title=f"NAB development subset ({len(windows)} files, {n_windows} windows)")
    for col in ("detector", *(p.name for p in PROFILES), "official std", "seconds (wall)"):
        table.add_column(col, justify="left" if col == "detector" else "right")
    for name in ("nexus", "numenta", "windowedGaussian", "robust_z"):
        row = report[name]
        assert isinstance(row, dict)
        off = row.get("official")
        table.add_row(
            name,
            *(f"{row[p.name]:.2f}" for p in PROFILES),
            f"{off['standard']:.2f}" if off else "—",
            f"{row['seconds_wall']:.1f}" if "seconds_wall" in row else "—",
        )
    console.print(table)
    return report


def _ms_file(key: str, frame: pd.DataFrame, detector: str) -> LabelledSeries:
    from threadpoolctl import threadpool_limits

    values = frame["value"].to_numpy()
    with threadpool_limits(limits=1):
        scores = DETECTORS[detector](values, probationary_length(len(values)))
    return labelled_series(key, frame, scores)


def _found_by_domain(series: list[LabelledSeries], threshold: float) -> dict[str, list[int]]:
    """``{domain: [windows found, windows]}`` after the probationary rows, at ``threshold``."""
    found: dict[str, list[int]] = {}
    for s in series:
        start = probationary_length(len(s.scores))
        row = found.setdefault(s.name.split("/")[0], [0, 0])
        for left, right in s.windows:
            if right >= start:
                row[1] += 1
                row[0] += bool(np.any(s.scores[max(left, start) : right + 1] >= threshold))
    return found


def bench_ms(console: Console) -> dict[str, object]:
    files = sorted(MS.glob("*/*.csv"))
    frames = {f.relative_to(MS).as_posix(): read_labelled_series(f) for f in files}
    report: dict[str, object] = {"files": len(frames)}
    for name in ("nexus", "robust_z"):
        started = time.perf_counter()
        jobs = (delayed(_ms_file)(key, frame, name) for key, frame in frames.items())
        series: list[LabelledSeries] = list(Parallel(n_jobs=2)(jobs))
        seconds = time.perf_counter() - started
        results = score_corpus(series)
        report[name] = {
            **scores_row(results),
            "seconds_wall": seconds,
            "windows": sum(len(s.windows) for s in series),
            "windows_found": results["standard"].tp,
            "fp_rows": results["standard"].fp,
            "found_by_domain": _found_by_domain(series, results["standard"].threshold),
        }
    table = Table(title=f"Microsoft cloud monitoring ({len(frames)} files), NAB scoring")
    for col in ("detector", *(p.name for p in PROFILES), "windows found", "seconds"):
        table.add_column(col, justify="left" if col == "detector" else "right")
    for name in ("nexus", "robust_z"):
        row = report[name]
        assert isinstance(row, dict)
        table.add_row(
            name,
            *(f"{row[p.name]:.2f}" for p in PROFILES),
            f"{row['windows_found']}/{row['windows']}",
            f"{row['seconds_wall']:.1f}",
        )
    console.print(table)
    return report


def bench_fit(console: Console) -> dict[str, object]:
    """Fit time of one module's detector: 8 days at 1 min × 8 fields."""
    from sklearn.ensemble import IsolationForest

    from nexus_ml.models.anomaly import AnomalyDetector

    rng = np.random.default_rng(0)
    n, n_fields = 8 * 1440, 8
    t = np.arange(n)
    index = pd.date_range("2026-01-01", periods=n, freq="1min", tz="UTC")
    frame = pd.DataFrame(
        {
            f"field_{j}": 50 + 10 * np.sin(2 * np.pi * t / 1440 + j) + rng.normal(0, 1, n)
            for j in range(n_fields)
        },
        index=index,
    )
    started = time.perf_counter()
    AnomalyDetector().fit(frame)
    fit = time.perf_counter() - started
    started = time.perf_counter()
    IsolationForest(random_state=0).fit(frame.to_numpy())
    forest = time.perf_counter() - started
    report: dict[str, object] = {
        "rows": n,
        "fields": n_fields,
        "seconds": fit,
        "isolation_forest_seconds": forest,
        "ratio_to_isolation_forest": fit / forest,
        "cpus": os.cpu_count(),
    }
    console.print(
        f"fit, one module ({n} rows × {n_fields} fields): {fit:.1f} s "
        f"(IsolationForest alone on the same frame: {forest:.2f} s)"
    )
    return report


def main() -> None:
    console = Console(width=130)
    report = {
        "nab": bench_nab(console),
        "ms_cloud_monitoring": bench_ms(console),
        "fit_one_module": bench_fit(console),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2, default=float))
    console.print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
