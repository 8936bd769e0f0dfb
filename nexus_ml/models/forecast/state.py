"""The regular grid a forecaster works on, and the recent state it conditions forecasts on.

Steps are counted from the Unix epoch (``step index = seconds // step``), so the phase of a
season is ``index % period`` whatever the series' start, and a context series lines up with
the training data by integer arithmetic (cheap enough to run every minute).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nexus_ml.errors import InputError

NS = 10**9


def to_utc_series(y: object, what: str) -> pd.Series:
    """``y`` as a float series on a sorted UTC DatetimeIndex (naive timestamps are UTC)."""
    if not isinstance(y, pd.Series):
        raise InputError(f"{what} must be a pandas Series, got {type(y).__name__}")
    if not isinstance(y.index, pd.DatetimeIndex):
        raise InputError(f"{what} must have a DatetimeIndex, got {type(y.index).__name__}")
    index = y.index.tz_localize("UTC") if y.index.tz is None else y.index.tz_convert("UTC")
    try:
        values = pd.to_numeric(y, errors="raise").to_numpy(dtype=float)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{what} must be numeric ({exc})") from exc
    out = pd.Series(values, index=index, name=y.name).sort_index()
    return out[~out.index.duplicated(keep="last")]


def align_to_grid(series: pd.Series) -> tuple[pd.Series, int]:
    """Put ``series`` on its regular grid (the median step, whole seconds); missing steps NaN."""
    if series.size < 2:
        raise InputError(f"y needs at least 2 timestamps to infer its step, got {series.size}")
    stamps = series.index.asi8
    step_ns = int(np.median(np.diff(stamps)))
    step = max(1, round(step_ns / NS))
    positions = stamps // (step * NS)
    first, last = int(positions[0]), int(positions[-1])
    values = np.full(last - first + 1, np.nan)
    # Several points in one step (jitter): keep their mean.
    sums = np.bincount(
        positions - first, weights=np.nan_to_num(series.to_numpy()), minlength=values.size
    )
    counts = np.bincount(
        positions - first,
        weights=np.isfinite(series.to_numpy()).astype(float),
        minlength=values.size,
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    index = pd.to_datetime(np.arange(first, last + 1) * step, unit="s", utc=True)
    return pd.Series(values, index=index, name=series.name), step


@dataclass(frozen=True)
class GridState:
    """The last ``values.size`` observations (gaps forward-filled), ending at ``end_step``."""

    values: np.ndarray
    end_step: int
    step: int
    capacity: int

    @classmethod
    def from_values(cls, values: np.ndarray, end_step: int, step: int, capacity: int) -> GridState:
        return cls(values[-capacity:].copy(), end_step, step, capacity)

    def extended(self, context: pd.Series) -> GridState:
        """A new state with ``context`` written onto the grid after (or over) this one."""
        if not isinstance(context, pd.Series) or not isinstance(context.index, pd.DatetimeIndex):
            raise InputError(
                f"context must be a time-indexed pandas Series, got {type(context).__name__}"
            )
        if context.empty:
            return self
        stamps = (
            context.index.asi8
            if context.index.tz is not None
            else (context.index.tz_localize("UTC").asi8)
        )
        values = np.asarray(context.to_numpy(), dtype=float)
        steps = stamps // (self.step * NS)
        new_end = max(self.end_step, int(steps.max()))
        start = new_end - self.capacity + 1
        grid = np.full(self.capacity, np.nan)
        # Carry over the part of the old state still inside the window.
        old_start = self.end_step - self.values.size + 1
        lo = max(old_start, start)
        if lo <= self.end_step:
            grid[lo - start : self.end_step - start + 1] = self.values[lo - old_start :]
        keep = (steps >= start) & np.isfinite(values)
        grid[steps[keep] - start] = values[keep]
        return GridState(_ffill(grid, self.values[-1]), new_end, self.step, self.capacity)


def _ffill(values: np.ndarray, seed: float) -> np.ndarray:
    mask = np.isfinite(values)
    if mask.all():
        return values
    if not mask[0]:
        values[0] = seed
        mask[0] = True
    idx = np.where(mask, np.arange(values.size), 0)
    np.maximum.accumulate(idx, out=idx)
    return values[idx]
