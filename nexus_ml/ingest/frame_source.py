"""``FrameSource``: a :class:`MetricSource` over a metric frame in memory or on disk.

The embedded default: the simulator's history, or Parquet/CSV files exported earlier, answer
exactly like Prometheus would: the same aligned grid, the same quality report.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from nexus_ml.domain.frame import validate_metric_frame
from nexus_ml.domain.metrics import METRIC_FIELDS, REPLICAS
from nexus_ml.errors import InputError
from nexus_ml.ingest.quality import assess_quality
from nexus_ml.ingest.source import MetricFetch
from nexus_ml.ingest.timegrid import Grid, aligned_grid, grid_frame

#: Default staleness limit, Prometheus' own lookback delta.
DEFAULT_STALE_AFTER = timedelta(minutes=5)


def read_metric_frame(path: Path) -> pd.DataFrame:
    """Read a metric frame from a ``.parquet`` or ``.csv`` file and validate it.

    Raises
    ------
    InputError
        When the file is missing, has another suffix, cannot be parsed or lacks a column.
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".csv":
            frame = pd.read_csv(path)
        else:
            raise InputError(f"{path}: expected a .parquet or .csv file, got suffix {suffix!r}")
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read metric frame ({exc})", source=str(path)) from exc
    return validate_metric_frame(frame, source=str(path))


def regrid(
    rows: pd.DataFrame, grid: Grid, fields: Sequence[str] = METRIC_FIELDS
) -> dict[str, np.ndarray]:
    """Each of ``fields`` of one module's rows (sorted, unique timestamps) on ``grid``.

    Like a Prometheus instant query, an instant takes the newest sample at or before it, but
    only from within one step: older samples do not paper over a gap.
    """
    target = pd.DataFrame({"timestamp": grid.timestamps()})
    matched = pd.merge_asof(
        target,
        rows[["timestamp", *fields]],
        on="timestamp",
        direction="backward",
        tolerance=pd.Timedelta(seconds=grid.step) - pd.Timedelta(1, "ns"),
    )
    return {f: matched[f].to_numpy(dtype=float) for f in fields}


class FrameSource:
    """Serve fetches from one metric frame.

    Parameters
    ----------
    frame
        A metric frame (see :mod:`nexus_ml.domain.frame`). Its replica counts
        (:data:`~nexus_ml.domain.metrics.REPLICAS`), when it has them, are served too; other
        extra columns are ignored.
    stale_after
        A module whose newest value is older than this at the end of a fetch is stale.
    name
        Used in error messages and logs.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        name: str = "in-memory frame",
    ) -> None:
        frame = validate_metric_frame(frame, source=name)
        keys = frame.duplicated(["module", "timestamp"], keep="last")
        self._duplicates = frame.loc[keys, "module"].value_counts().to_dict()
        self._frame = frame.loc[~keys].reset_index(drop=True)
        self._by_module = dict(tuple(self._frame.groupby("module", sort=False)))
        self.stale_after = stale_after
        self.name = name
        self._extra: tuple[str, ...] = (REPLICAS,) if REPLICAS in frame.columns else ()

    @classmethod
    def from_path(cls, path: Path, *, stale_after: timedelta = DEFAULT_STALE_AFTER) -> FrameSource:
        """A source over a Parquet or CSV metric frame file."""
        return cls(read_metric_frame(path), stale_after=stale_after, name=str(path))

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(self._by_module)

    @property
    def last_timestamp(self) -> datetime | None:
        """The latest timestamp of the frame (``None`` when it is empty)."""
        if self._frame.empty:
            return None
        last: datetime = pd.Timestamp(self._frame["timestamp"].max()).to_pydatetime()
        return last

    def fetch(
        self,
        modules: Sequence[str],
        start: datetime,
        end: datetime,
        step: timedelta = timedelta(minutes=1),
    ) -> MetricFetch:
        """The metric frame of ``modules`` on the aligned ``step`` grid within ``[start, end]``,
        with its quality report (a module the frame does not hold comes back all NaN)."""
        grid = aligned_grid(start, end, step)
        columns: dict[tuple[str, str], np.ndarray] = {}
        nan_values: dict[str, int] = {}
        lo, hi = (
            pd.Timestamp(grid.start, unit="s", tz="UTC"),
            pd.Timestamp(grid.end, unit="s", tz="UTC"),
        )
        for module in modules:
            rows = self._by_module.get(module)
            if rows is None:
                continue
            window = rows[
                (rows["timestamp"] > lo - pd.Timedelta(seconds=grid.step))
                & (rows["timestamp"] <= hi)
            ]
            nan_values[module] = int(window[list(METRIC_FIELDS)].isna().to_numpy().sum())
            for f, values in regrid(window, grid, (*METRIC_FIELDS, *self._extra)).items():
                columns[(module, f)] = values
        frame = grid_frame(grid, modules, columns, self._extra)
        quality = assess_quality(
            frame,
            modules,
            step=step,
            now=hi.to_pydatetime(),
            stale_after=self.stale_after,
            nan_values=nan_values,
            duplicate_timestamps={m: int(self._duplicates.get(m, 0)) for m in modules},
        )
        return MetricFetch(frame=frame, quality=quality)
