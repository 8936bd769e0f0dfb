"""Reading and writing NAB's file layouts.

* data: ``DATA_DIR/<category>/<file>.csv`` with ``timestamp,value``;
* labels: ``combined_windows.json``, ``{"<category>/<file>.csv": [[start, end], ...]}``;
* results: ``OUT/<category>/<file>.csv`` with ``timestamp,value,anomaly_score`` (ours), or NAB's
  reference layout ``<detector>/<category>/<detector>_<file>.csv`` (an extra ``label`` column).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from nexus_ml.errors import InputError
from nexus_ml.evaluate.nab.scoring import LabelledSeries

Windows = Mapping[str, list[tuple[pd.Timestamp, pd.Timestamp]]]


def read_windows(path: Path) -> dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]:
    """Anomaly windows per relative data path, from a NAB ``combined_windows.json``."""
    try:
        raw = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read NAB labels {str(path)!r}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InputError(f"NAB labels {str(path)!r} must map file names to windows")
    return {
        key: sorted((pd.Timestamp(a), pd.Timestamp(b)) for a, b in spans)
        for key, spans in raw.items()
    }


def data_files(data_dir: Path) -> list[str]:
    """Relative paths ``<category>/<file>.csv`` of every data file, sorted."""
    root = Path(data_dir)
    if not root.is_dir():
        raise InputError(f"NAB data folder {str(root)!r} does not exist")
    found = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.csv"))
    if not found:
        raise InputError(f"no <category>/<file>.csv files under {str(root)!r}")
    return found


def read_series(path: Path) -> pd.DataFrame:
    """A NAB data (or result) file as a frame with a UTC ``DatetimeIndex``."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc}") from exc
    if "timestamp" not in frame.columns or "value" not in frame.columns:
        raise InputError(f"{str(path)!r} needs timestamp,value columns, got {list(frame.columns)}")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.pop("timestamp")), name="timestamp")
    return frame.tz_localize("UTC") if frame.index.tz is None else frame.tz_convert("UTC")


def write_result(path: Path, frame: pd.DataFrame, scores: np.ndarray) -> None:
    """Write ``timestamp,value,anomaly_score`` as NAB expects."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = pd.DataFrame(
        {
            "timestamp": frame.index.tz_localize(None).strftime("%Y-%m-%d %H:%M:%S"),
            "value": frame["value"].to_numpy(),
            "anomaly_score": np.asarray(scores, dtype=float),
        }
    )
    out.to_csv(path, index=False)


def window_rows(
    index: pd.DatetimeIndex, spans: list[tuple[pd.Timestamp, pd.Timestamp]]
) -> tuple[tuple[int, int], ...]:
    """Inclusive row spans of the windows in a file (rows whose timestamp lies inside)."""
    naive = index.tz_localize(None) if index.tz is not None else index
    rows = []
    for start, end in spans:
        left = int(naive.searchsorted(start, side="left"))
        right = int(naive.searchsorted(end, side="right")) - 1
        if left <= right:
            rows.append((left, right))
    return tuple(rows)


def result_files(results_dir: Path, windows: Windows) -> dict[str, Path]:
    """Map each labelled data path to its result file under ``results_dir``.

    Accepts our layout (``<category>/<file>.csv``) and NAB's (``<category>/<detector>_<file>.csv``
    inside a folder named after the detector).
    """
    root = Path(results_dir)
    prefix = root.name + "_"
    found: dict[str, Path] = {}
    for path in sorted(root.glob("*/*.csv")):
        category, name = path.parent.name, path.name
        key = f"{category}/{name}"
        if key not in windows and name.startswith(prefix):
            key = f"{category}/{name[len(prefix) :]}"
        if key in windows:
            found[key] = path
    return found


def detector_dirs(results_dir: Path, windows: Windows) -> dict[str, Path]:
    """Detectors found under ``results_dir``: itself, or each sub-folder holding results."""
    root = Path(results_dir)
    if not root.is_dir():
        raise InputError(f"results folder {str(root)!r} does not exist")
    if result_files(root, windows):
        return {root.name: root}
    found = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and result_files(p, windows)}
    if not found:
        raise InputError(f"no NAB result files matching the labels under {str(root)!r}")
    return found


def load_results(results_dir: Path, windows: Windows) -> list[LabelledSeries]:
    """Every labelled result file of one detector, with window row spans resolved.

    A labelled data file without a result file is an error: NAB scores the whole corpus.
    """
    files = result_files(results_dir, windows)
    missing = sorted(set(windows) - set(files))
    if missing:
        raise InputError(
            f"{len(missing)} labelled files have no result under {str(results_dir)!r}, "
            f"e.g. {missing[0]!r}"
        )
    series = []
    for key, path in sorted(files.items()):
        frame = read_series(path)
        if "anomaly_score" not in frame.columns:
            raise InputError(f"{str(path)!r} has no anomaly_score column")
        scores = frame["anomaly_score"].to_numpy(dtype=float)
        if not np.all(np.isfinite(scores)):
            raise InputError(f"{str(path)!r} has non-finite anomaly scores")
        rows = window_rows(pd.DatetimeIndex(frame.index), windows[key])
        series.append(LabelledSeries(name=key, scores=scores, windows=rows))
    return series
