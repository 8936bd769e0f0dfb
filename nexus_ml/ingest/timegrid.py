"""The step grid of a fetch: alignment, chunking under Prometheus' point limit, stitching.

Prometheus evaluates a range query at ``start, start + step, …, end`` and refuses more than
11,000 points per series. We align every grid to multiples of the step since the Unix epoch, so
that consecutive fetches (and chunks of one fetch) land on the same instants, and split long
ranges into chunks that end one step before the next begins: no instant is fetched twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from nexus_ml.domain.frame import empty_metric_frame
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import InputError

#: Prometheus' hard limit on points per series in one range query.
PROMETHEUS_MAX_POINTS = 11_000
#: What we ask for per chunk: a margin below the limit.
DEFAULT_CHUNK_POINTS = 10_000


@dataclass(frozen=True)
class Grid:
    """Aligned evaluation instants, as integer Unix seconds: ``start, start + step, …, end``."""

    start: int
    end: int
    step: int

    @property
    def points(self) -> int:
        return (self.end - self.start) // self.step + 1

    def seconds(self) -> np.ndarray:
        return np.arange(self.start, self.end + 1, self.step, dtype=np.int64)

    def timestamps(self) -> pd.DatetimeIndex:
        return pd.to_datetime(self.seconds(), unit="s", utc=True)


def _unix(moment: datetime) -> float:
    if moment.tzinfo is None:  # naive datetimes are UTC everywhere in nexus-ml
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def aligned_grid(start: datetime, end: datetime, step: timedelta) -> Grid:
    """The grid of step multiples inside ``[start, end]``.

    Raises
    ------
    InputError
        When ``step`` is not a positive whole number of seconds or the range holds no instant.
    """
    step_s = step.total_seconds()
    if step_s < 1 or step_s != int(step_s):
        raise InputError(f"step must be a positive whole number of seconds, got {step}")
    s = int(step_s)
    first = -(-int(np.ceil(_unix(start))) // s) * s  # ceil to a multiple of the step
    last = int(np.floor(_unix(end))) // s * s
    if last < first:
        raise InputError(
            f"time range {start.isoformat()} .. {end.isoformat()} holds no {step} step"
        )
    return Grid(first, last, s)


def plan_chunks(grid: Grid, max_points: int = DEFAULT_CHUNK_POINTS) -> list[Grid]:
    """Split ``grid`` into consecutive sub-grids of at most ``max_points`` instants each.

    Raises
    ------
    InputError
        When ``max_points`` is not in ``[1, 11000]``.
    """
    if not 1 <= max_points <= PROMETHEUS_MAX_POINTS:
        raise InputError(f"max_points must be in [1, {PROMETHEUS_MAX_POINTS}], got {max_points}")
    span = (max_points - 1) * grid.step
    chunks = []
    first = grid.start
    while first <= grid.end:
        last = min(first + span, grid.end)
        chunks.append(Grid(first, last, grid.step))
        first = last + grid.step
    return chunks


def stitch(pieces: list[tuple[np.ndarray, np.ndarray]], grid: Grid) -> tuple[np.ndarray, int]:
    """Place ``(seconds, values)`` pieces on ``grid``; return the values and the duplicates dropped.

    Missing instants are NaN. An instant delivered twice (overlapping chunks, a retried
    request) keeps its first value and is counted, so that a caller can report it.
    """
    out = np.full(grid.points, np.nan)
    filled = np.zeros(grid.points, dtype=bool)
    duplicates = 0
    for seconds, values in pieces:
        offsets = seconds.astype(np.int64) - grid.start
        on_grid = (offsets % grid.step == 0) & (offsets >= 0) & (seconds <= grid.end)
        index = offsets[on_grid] // grid.step
        vals = values[on_grid]
        index, first_pos = np.unique(index, return_index=True)
        duplicates += int(on_grid.sum()) - len(index)
        vals = vals[first_pos]
        new = ~filled[index]
        duplicates += int((~new).sum())
        out[index[new]] = vals[new]
        filled[index[new]] = True
    return out, duplicates


def grid_frame(
    grid: Grid,
    modules: Sequence[str],
    columns: Mapping[tuple[str, str], np.ndarray],
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """A metric frame with one row per (module, grid instant); ``columns[(module, field)]``
    holds that series on the grid, and absent series are all NaN. ``extra`` names optional
    columns (e.g. :data:`~nexus_ml.domain.metrics.REPLICAS`) written after the fields."""
    n = grid.points
    times = grid.timestamps()
    blocks = []
    for module in modules:
        data: dict[str, object] = {"module": [module] * n, "timestamp": times}
        for f in (*METRIC_FIELDS, *extra):
            data[f] = columns.get((module, f), np.full(n, np.nan))
        blocks.append(pd.DataFrame(data))
    if not blocks:
        return empty_metric_frame()
    return pd.concat(blocks, ignore_index=True)
