"""Anomaly detection on NAB (development subset) and the labelled Microsoft series, with every
setting chosen by cross-validation that never scores the series it was chosen on.

In the same run:
- Candidates: the detector settings of
  :func:`nexus_ml.evaluate.anomaly_selection.anomaly_candidates` (views × alarm level ×
  robust floor; the quiet period is fixed by convention, see that module), each run once,
  causally, over every NAB file (fitted on the probationary rows, as NAB's runner does) and
  every Microsoft file (NAB-style windows from the point labels). One process, one BLAS
  thread: the machines are shared.
- Selection (``docs/model-selection.md``): leave-one-category-out over NAB's categories and
  leave-one-domain-out over the Microsoft domains. Printed: the in-sample score (candidate and
  threshold best on everything), the out-of-fold score (each group scored with the candidate
  chosen on the other groups; NAB's threshold sweep) and the strict out-of-fold score (the
  threshold also chosen on the other groups). A gap above 5 points is flagged.
- References scored by the same scorer: the published ``numenta`` (HTM) and ``windowedGaussian``
  result files (with NAB's official numbers), and a robust z-score (trailing median/MAD).
- The shipped defaults of ``AnomalyDetector`` through ``nexus-ml anomaly nab-run``'s runner.
- Online cost: milliseconds per row per field of ``update`` with one new row, next to an online
  robust z-score on the same rows (ratio), and the fit time of one module's frame.
Prints tables and writes ``bench/results/anomaly.json``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from threadpoolctl import threadpool_limits

from apps.stack.data import data_dir
from nexus_ml.evaluate.anomaly_selection import (
    SelectionReport,
    anomaly_candidates,
    leave_one_group_out,
)
from nexus_ml.evaluate.nab.corpus import (
    data_files,
    load_results,
    read_series,
    read_windows,
    window_rows,
)
from nexus_ml.evaluate.nab.labels import read_labelled_series, windows_from_point_labels
from nexus_ml.evaluate.nab.runner import nexus_scores, robust_z_scores, run_corpus
from nexus_ml.evaluate.nab.scoring import (
    PROFILES,
    LabelledSeries,
    probationary_length,
    score_corpus,
)

ROOT = Path(__file__).resolve().parents[1]

DATA = data_dir() / "anomaly"  # $NEXUS_DATA_DIR, else ../shared/data
NAB = DATA / "nab"
MS = DATA / "ms-cloud-monitoring"
OUT = ROOT / "bench" / "results" / "anomaly.json"
MAX_GAP = 5.0

Corpus = list[tuple[str, np.ndarray, tuple[tuple[int, int], ...]]]


def nab_corpus() -> tuple[Corpus, int]:
    windows = read_windows(NAB / "labels" / "combined_windows.json")
    files: Corpus = []
    for rel in data_files(NAB / "data"):
        frame = read_series(NAB / "data" / rel)
        rows = window_rows(pd.DatetimeIndex(frame.index), windows[rel])
        files.append((rel, frame["value"].to_numpy(float), rows))
    return files, sum(len(w) for w in windows.values())


def ms_corpus() -> Corpus:
    files: Corpus = []
    for path in sorted(MS.glob("*/*.csv")):
        frame = read_labelled_series(path)
        rows = windows_from_point_labels(frame["label"].to_numpy())
        files.append((path.relative_to(MS).as_posix(), frame["value"].to_numpy(float), rows))
    return files


def run_detector(
    corpus: Corpus, detector: Callable[[np.ndarray, int], np.ndarray]
) -> list[LabelledSeries]:
    with threadpool_limits(limits=1):
        return [
            LabelledSeries(name, detector(values, probationary_length(len(values))), windows)
            for name, values, windows in corpus
        ]


def profiles_row(results: Mapping[str, Any]) -> dict[str, float]:
    return {p.name: float(results[p.name].normalised) for p in PROFILES}


def selection_json(report: SelectionReport) -> dict[str, Any]:
    return {
        "in_sample_choice": report.in_sample_choice,
        "in_sample": dict(report.in_sample),
        "out_of_fold": dict(report.out_of_fold),
        "out_of_fold_strict": dict(report.out_of_fold_strict),
        "gap_standard": report.gap,
        "gap_over_limit": report.gap > MAX_GAP,
        "folds": [
            {"held_out": f.held_out, "chosen": f.chosen, "train_score": f.train_score}
            for f in report.folds
        ],
        "candidates_in_sample_standard": dict(report.candidate_scores),
    }


def selection_table(title: str, report: SelectionReport, refs: Mapping[str, Any]) -> Table:
    table = Table(title=title)
    for col in ("", *(p.name for p in PROFILES)):
        table.add_column(col, justify="left" if not col else "right")
    rows = [
        (f"in-sample ({report.in_sample_choice})", report.in_sample),
        ("out-of-fold (settings chosen on the other groups)", report.out_of_fold),
        ("out-of-fold strict (threshold too)", report.out_of_fold_strict),
        *refs.items(),
    ]
    for name, scores in rows:
        table.add_row(name, *(f"{scores[p.name]:.2f}" for p in PROFILES))
    return table


def bench_selection(console: Console) -> dict[str, Any]:
    nab, n_windows = nab_corpus()
    ms = ms_corpus()
    candidates = anomaly_candidates()
    runs: dict[str, dict[str, list[LabelledSeries]]] = {"nab": {}, "ms": {}}
    seconds: dict[str, float] = {}
    for name, params in candidates.items():
        started = time.perf_counter()

        def detector(values: np.ndarray, n_prob: int, p: dict[str, Any] = params) -> np.ndarray:
            return nexus_scores(values, n_prob, p)

        runs["nab"][name] = run_detector(nab, detector)
        runs["ms"][name] = run_detector(ms, detector)
        seconds[name] = time.perf_counter() - started
        console.log(f"candidate {name}: {seconds[name]:.1f} s")

    official = json.loads(
        (NAB / "reference_results" / "official_scores_dev_subset.json").read_text()
    )
    windows = read_windows(NAB / "labels" / "combined_windows.json")
    nab_refs: dict[str, dict[str, float]] = {}
    for name in ("numenta", "windowedGaussian"):
        series = load_results(NAB / "reference_results" / name, windows)
        nab_refs[name] = profiles_row(score_corpus(series, n_labelled_windows=n_windows))
    nab_refs["robust_z"] = profiles_row(
        score_corpus(run_detector(nab, robust_z_scores), n_labelled_windows=n_windows)
    )
    ms_refs = {"robust_z": profiles_row(score_corpus(run_detector(ms, robust_z_scores)))}

    nab_report = leave_one_group_out(runs["nab"], n_labelled_windows=n_windows)
    ms_report = leave_one_group_out(runs["ms"])
    console.print(selection_table("NAB dev subset: leave-one-category-out", nab_report, nab_refs))
    console.print(selection_table("Microsoft: leave-one-domain-out", ms_report, ms_refs))
    for label, report in (("NAB", nab_report), ("Microsoft", ms_report)):
        flag = "FINDING: gap over 5 points" if report.gap > MAX_GAP else "within 5 points"
        console.print(
            f"{label}: folds chose {[(f.held_out, f.chosen) for f in report.folds]}; "
            f"in-sample − out-of-fold = {report.gap:.2f} ({flag})"
        )
    ms_beats = {
        p.name: ms_report.out_of_fold[p.name] > ms_refs["robust_z"][p.name] for p in PROFILES
    }
    console.print(f"Microsoft out-of-fold beats robust z per profile: {ms_beats}")
    return {
        "nab": {
            **selection_json(nab_report),
            "references": nab_refs,
            "official": official,
            "files": len(nab),
            "windows": n_windows,
        },
        "ms_cloud_monitoring": {
            **selection_json(ms_report),
            "references": ms_refs,
            "beats_robust_z_out_of_fold": ms_beats,
            "files": len(ms),
        },
        "candidate_seconds": seconds,
    }


def bench_defaults(console: Console) -> dict[str, Any]:
    """The shipped defaults through the NAB runner (result files, as ``nab-run`` writes them)."""
    windows = read_windows(NAB / "labels" / "combined_windows.json")
    n_windows = sum(len(w) for w in windows.values())
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        runs = run_corpus(NAB / "data", Path(tmp) / "nexus", detector="nexus", n_jobs=1)
        wall = time.perf_counter() - started
        results = score_corpus(
            load_results(Path(tmp) / "nexus", windows), n_labelled_windows=n_windows
        )
    ms_results = score_corpus(run_detector(ms_corpus(), nexus_scores))
    report = {
        "nab": profiles_row(results),
        "ms_cloud_monitoring": profiles_row(ms_results),
        "nab_seconds_wall": wall,
        "nab_rows": sum(r.rows for r in runs),
    }
    console.print(
        f"shipped defaults: NAB {report['nab']}; Microsoft {report['ms_cloud_monitoring']}"
    )
    return report


def online_robust_z(window: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Reference online cost: one row's robust z per field over the trailing 100 rows."""
    med = np.median(window, axis=0)
    mad = np.median(np.abs(window - med), axis=0) * 1.4826
    return np.asarray(np.abs(value - med) / np.maximum(mad, 1e-9))


def bench_online(console: Console, n_fields: int = 6, rows: int = 300) -> dict[str, Any]:
    """Per-row online cost after a fit on 8 days at 1 min × ``n_fields``."""
    from nexus_ml.models.anomaly.detector import AnomalyDetector

    rng = np.random.default_rng(0)
    n = 8 * 1440
    t = np.arange(n + rows)
    index = pd.date_range("2026-01-01", periods=n + rows, freq="1min", tz="UTC")
    frame = pd.DataFrame(
        {
            f"field_{j}": 50 + 10 * np.sin(2 * np.pi * t / 1440 + j) + rng.normal(0, 1, t.size)
            for j in range(n_fields)
        },
        index=index,
    )
    with threadpool_limits(limits=1):
        started = time.perf_counter()
        detector = AnomalyDetector().fit(frame.iloc[:n])
        fit = time.perf_counter() - started
        # Interleaved, row by row: both timings see the same load on a shared machine.
        values = frame.to_numpy()
        ours = reference = 0.0
        for i in range(n, n + rows):
            started = time.perf_counter()
            detector.update(frame.iloc[i : i + 1])
            middle = time.perf_counter()
            online_robust_z(values[i - 100 : i], values[i])
            ours += middle - started
            reference += time.perf_counter() - middle
        ours, reference = ours / rows / n_fields, reference / rows / n_fields
    report = {
        "fields": n_fields,
        "fit_rows": n,
        "fit_seconds": fit,
        "ms_per_row_per_field": 1000 * ours,
        "robust_z_ms_per_row_per_field": 1000 * reference,
        "ratio_to_robust_z": ours / reference,
        "within_1ms": 1000 * ours <= 1.0,
    }
    console.print(
        f"online: {1000 * ours:.3f} ms per row per field ({n_fields} fields), robust z "
        f"{1000 * reference:.4f} ms (×{ours / reference:.0f}); fit of 8 days × {n_fields} "
        f"fields {fit:.1f} s"
    )
    return report


def main() -> None:
    console = Console(width=140)
    report = {
        "selection": bench_selection(console),
        "shipped_defaults": bench_defaults(console),
        "online": bench_online(console),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2, default=float))
    console.print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
