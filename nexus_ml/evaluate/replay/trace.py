"""Reading demand traces: ``ts,value`` (unix seconds or ISO 8601) or ``TimeStamp,Value,Label``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nexus_ml.errors import InputError

MAX_ROWS = 5_000_000  # rows of a trace file
MAX_STEPS = 3_000_000  # resampled steps: about 5.7 years of minutes, 24 MB of float64
_TIME_COLUMNS = ("ts", "timestamp", "TimeStamp")
_VALUE_COLUMNS = ("value", "Value")


def _parse_times(raw: pd.Series, path: Path) -> pd.DatetimeIndex:
    try:
        if pd.api.types.is_numeric_dtype(raw):
            return pd.DatetimeIndex(pd.to_datetime(raw, unit="s", utc=True))
        return pd.DatetimeIndex(pd.to_datetime(raw, utc=True))
    except (ValueError, TypeError, OverflowError) as exc:
        raise InputError(
            f"{path}: timestamps are neither unix seconds nor ISO 8601 in 1678..2261 ({exc})"
        ) from exc


def load_trace(path: Path, *, step: str = "1min") -> pd.Series:
    """The trace at ``path`` resampled to ``step`` means, gaps forward-filled.

    Raises
    ------
    InputError
        When the file cannot be read, lacks a time or value column, has no numeric values,
        has more than ``MAX_ROWS`` rows, or spans more than ``MAX_STEPS`` steps (both checked
        before anything that size is allocated).
    """
    try:
        frame = pd.read_csv(path, nrows=MAX_ROWS + 1)
    except pd.errors.EmptyDataError:
        raise InputError(
            f"{path}: empty trace (expected a header ts,value)", path=str(path)
        ) from None
    except (OSError, pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot read trace ({exc})", path=str(path)) from exc
    if len(frame) > MAX_ROWS:
        raise InputError(f"{path}: more than {MAX_ROWS:,} rows", path=str(path))
    time_col = next((c for c in _TIME_COLUMNS if c in frame.columns), None)
    value_col = next((c for c in _VALUE_COLUMNS if c in frame.columns), None)
    if time_col is None or value_col is None:
        raise InputError(
            f"{path}: expected columns ts,value or TimeStamp,Value, got {','.join(frame.columns)}",
            path=str(path),
        )
    values = pd.to_numeric(frame[value_col], errors="coerce")
    if values.notna().sum() == 0:
        raise InputError(f"{path}: column {value_col} has no numeric values", path=str(path))
    series = pd.Series(values.to_numpy(), index=_parse_times(frame[time_col], path), name=path.stem)
    series = series[series.index.notna()].sort_index()
    if series.empty:
        raise InputError(f"{path}: column {time_col} has no valid timestamp", path=str(path))
    span = series.index[-1] - series.index[0]
    if span / pd.Timedelta(step) > MAX_STEPS:
        raise InputError(
            f"{path}: the trace spans {series.index[0]} to {series.index[-1]}, more than "
            f"{MAX_STEPS:,} steps of {step}",
            path=str(path),
        )
    return series.resample(step).mean().ffill().bfill()
