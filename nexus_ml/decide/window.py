"""The recent observations of one module, as plain arrays the policy can read fast."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import InputError


def finite(values: Iterable[float]) -> list[float]:
    """The finite values of a series, in order (a window's missing minutes are NaN)."""
    return [float(v) for v in values if math.isfinite(v)]


@dataclass(frozen=True)
class MetricWindow:
    """Per-minute observations of one module, oldest first.

    ``values`` has one sequence per metric field (NaN where missing); ``replicas`` is the
    running replica count when the source knows it.
    """

    module: str
    timestamps: tuple[datetime, ...]
    values: Mapping[str, Sequence[float]]
    replicas: Sequence[float] = ()

    def __post_init__(self) -> None:
        n = len(self.timestamps)
        for name, column in self.values.items():
            if len(column) != n:
                raise InputError(
                    f"window of {self.module!r}: field {name!r} has {len(column)} values "
                    f"for {n} timestamps"
                )

    def __len__(self) -> int:
        return len(self.timestamps)

    def field(self, name: str) -> Sequence[float]:
        """The values of ``name`` (all NaN when the source did not report it)."""
        column = self.values.get(name)
        return column if column is not None else [math.nan] * len(self)

    @property
    def last_observed(self) -> datetime | None:
        return self.timestamps[-1] if self.timestamps else None

    def last_replicas(self) -> int | None:
        for value in reversed(self.replicas):
            if math.isfinite(value):
                return round(value)
        return None

    def until(self, last: datetime) -> MetricWindow:
        """The rows at or before ``last`` (timestamps are sorted: a tail is cut)."""
        n = bisect_right(self.timestamps, last)
        if n == len(self):
            return self
        return MetricWindow(
            module=self.module,
            timestamps=self.timestamps[:n],
            values={name: list(column[:n]) for name, column in self.values.items()},
            replicas=list(self.replicas[:n]),
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, module: str) -> MetricWindow:
        """The rows of ``module`` in a metric frame (see :mod:`nexus_ml.domain.frame`)."""
        if frame.empty or "timestamp" not in frame.columns:
            return cls(module=module, timestamps=(), values={})
        rows = frame[frame["module"] == module] if "module" in frame.columns else frame
        rows = rows.sort_values("timestamp", kind="stable")
        stamps = pd.to_datetime(rows["timestamp"], utc=True)
        values = {
            name: rows[name].astype("float64").tolist()
            for name in METRIC_FIELDS
            if name in rows.columns
        }
        replicas = rows["replicas"].astype("float64").tolist() if "replicas" in rows.columns else []
        return cls(
            module=module,
            timestamps=tuple(ts.to_pydatetime() for ts in stamps),
            values=values,
            replicas=replicas,
        )

    def to_wide(self) -> pd.DataFrame:
        """This window as the anomaly detector reads it: one column per metric field, indexed
        by time (the detector's online state continues from the last row it saw)."""
        index = pd.DatetimeIndex(pd.to_datetime(list(self.timestamps), utc=True), name="timestamp")
        return pd.DataFrame({name: list(self.field(name)) for name in METRIC_FIELDS}, index=index)
