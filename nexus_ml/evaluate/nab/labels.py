"""NAB-style windows from point labels (series outside NAB: ``TimeStamp,Value,Label``).

NAB's labeller turns each labelled timestamp into a window of ``int(0.10 · N / n_labels)`` rows
centred on it (clipped to the file). Labelled points that sit next to each other describe one
event, so windows that overlap or touch are merged into one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from nexus_ml.errors import InputError
from nexus_ml.evaluate.nab.scoring import LabelledSeries

WINDOW_FRACTION = 0.10


def windows_from_point_labels(labels: np.ndarray) -> tuple[tuple[int, int], ...]:
    """Inclusive row spans of the anomaly windows for a 0/1 label array."""
    n = len(labels)
    points = np.flatnonzero(np.asarray(labels) > 0)
    if n == 0 or points.size == 0:
        return ()
    half = int(WINDOW_FRACTION * n / points.size) // 2
    spans: list[list[int]] = []
    for i in points.tolist():
        left, right = max(i - half, 0), min(i + half, n - 1)
        if spans and left <= spans[-1][1] + 1:
            spans[-1][1] = max(spans[-1][1], right)
        else:
            spans.append([left, right])
    return tuple((a, b) for a, b in spans)


def read_labelled_series(path: Path) -> pd.DataFrame:
    """A ``TimeStamp,Value,Label`` file as a frame with columns ``value`` and ``label``."""
    try:
        raw = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc}") from exc
    expected = {"TimeStamp", "Value", "Label"}
    if not expected <= set(raw.columns):
        raise InputError(f"{str(path)!r} needs columns {sorted(expected)}, got {list(raw.columns)}")
    index = pd.DatetimeIndex(pd.to_datetime(raw["TimeStamp"], utc=True), name="timestamp")
    frame = pd.DataFrame(
        {"value": raw["Value"].to_numpy(float), "label": raw["Label"].to_numpy(int)}, index=index
    )
    return frame.sort_index()


def labelled_series(name: str, frame: pd.DataFrame, scores: np.ndarray) -> LabelledSeries:
    """Detector scores of one labelled file, ready for :func:`~.scoring.score_corpus`."""
    windows = windows_from_point_labels(frame["label"].to_numpy())
    return LabelledSeries(name=name, scores=np.asarray(scores, dtype=float), windows=windows)
