"""Run a detector causally over a NAB-layout folder and write NAB result files.

Each file is handled as NAB's runner does: the detector learns from the probationary rows
(the first ``min(15 %, 750)`` rows, which NAB does not score) and then walks forward through
the rest, scoring every row from the rows before it. Files run in parallel with joblib.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from joblib import Parallel, delayed

from nexus_ml.errors import InputError
from nexus_ml.evaluate.nab.corpus import data_files, read_series, write_result
from nexus_ml.evaluate.nab.scoring import probationary_length
from nexus_ml.logs import get_logger

log = get_logger(__name__)

FloatArray = npt.NDArray[np.float64]


def nexus_scores(
    values: FloatArray, n_probation: int, params: Mapping[str, Any] | None = None
) -> FloatArray:
    """Our :class:`~nexus_ml.models.anomaly.detector.AnomalyDetector`, fitted on the probation.

    The rows after them are scored in one ``update`` call, which is causal row by row.
    ``params`` are hyper-parameters of the detector (default: its defaults).
    """
    import pandas as pd

    from nexus_ml.models.anomaly.detector import AnomalyDetector

    frame = pd.DataFrame({"value": values})
    n_fit = max(n_probation, 2)
    detector = AnomalyDetector(**dict(params or {})).fit(frame.iloc[:n_fit])
    scores = np.zeros(len(values))
    scores[n_fit:] = detector.update(frame.iloc[n_fit:])["combined"].to_numpy()
    return scores


def robust_z_scores(values: FloatArray, n_probation: int) -> FloatArray:
    """Reference detector: |x − median| / MAD over the previous 100 rows, squashed to [0, 1)."""
    import pandas as pd

    s = pd.Series(values)
    prev = s.shift(1)
    med = prev.rolling(100, min_periods=10).median()
    mad = (prev - med).abs().rolling(100, min_periods=10).median() * 1.4826
    z = ((s - med).abs() / mad.clip(lower=1e-9)).fillna(0.0).to_numpy()
    scores = 1.0 - np.exp(-np.minimum(z, 1e6) / 4.0)
    scores[:n_probation] = 0.0
    return np.asarray(scores, dtype=np.float64)


#: Detectors ``nab-run`` knows: name → (values, probationary rows) → scores in [0, 1].
DETECTORS: dict[str, Callable[[FloatArray, int], FloatArray]] = {
    "nexus": nexus_scores,
    "robust_z": robust_z_scores,
}


@dataclass(frozen=True)
class FileRun:
    """One result file written."""

    relative_path: str
    rows: int
    seconds: float


def run_file(data_dir: Path, out_dir: Path, relative_path: str, detector: str) -> FileRun:
    """Score one data file and write ``out_dir/<relative_path>``."""
    from threadpoolctl import threadpool_limits

    started = time.perf_counter()
    frame = read_series(Path(data_dir) / relative_path)
    values = frame["value"].to_numpy(dtype=float)
    # Files already run in parallel: one BLAS thread each avoids oversubscribing the cores.
    with threadpool_limits(limits=1):
        scores = DETECTORS[detector](values, probationary_length(len(values)))
    if scores.shape != values.shape or not np.all((scores >= 0) & (scores <= 1)):
        raise InputError(f"detector {detector!r} returned scores outside [0, 1]")
    write_result(Path(out_dir) / relative_path, frame, scores)
    seconds = time.perf_counter() - started
    log.info("nab.file_done", file=relative_path, rows=len(values), seconds=round(seconds, 2))
    return FileRun(relative_path, len(values), seconds)


def run_corpus(
    data_dir: Path,
    out_dir: Path,
    *,
    detector: str = "nexus",
    n_jobs: int = 2,
    files: list[str] | None = None,
    on_done: Callable[[FileRun], None] | None = None,
) -> list[FileRun]:
    """Run ``detector`` over every ``<category>/<file>.csv`` under ``data_dir``.

    ``on_done`` is called in the caller's process as each file finishes (progress bars).
    """
    if detector not in DETECTORS:
        raise InputError(f"unknown detector {detector!r}; known: {sorted(DETECTORS)}")
    todo = files if files is not None else data_files(Path(data_dir))
    runs: list[FileRun] = []
    jobs = (delayed(run_file)(data_dir, out_dir, rel, detector) for rel in todo)
    for run in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
        runs.append(run)
        if on_done is not None:
            on_done(run)
    return sorted(runs, key=lambda r: r.relative_path)
