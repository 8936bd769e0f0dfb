"""Reading demand traces: ``ts,value`` (unix seconds or ISO 8601) or ``TimeStamp,Value,Label``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nexus_ml.errors import InputError

_TIME_COLUMNS = ("ts", "timestamp", "TimeStamp")
_VALUE_COLUMNS = ("value", "Value")


def _parse_times(raw: pd.Series, path: Path) -> pd.DatetimeIndex:
    if pd.api.types.is_numeric_dtype(raw):
        return pd.DatetimeIndex(pd.to_datetime(raw, unit="s", utc=True))
    try:
        return pd.DatetimeIndex(pd.to_datetime(raw, utc=True))
    except (ValueError, TypeError) as exc:
        raise InputError(
            f"{path}: timestamps are neither unix seconds nor ISO 8601 ({exc})"
        ) from exc


def load_trace(path: Path, *, step: str = "1min") -> pd.Series:
    """The trace at ``path`` resampled to ``step`` means, gaps forward-filled.

    Raises
    ------
    InputError
        When the file cannot be read, lacks a time or value column, or has no numeric values.
    """
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read trace ({exc})", path=str(path)) from exc
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
    series = series.sort_index()
    return series.resample(step).mean().ffill().bfill()
