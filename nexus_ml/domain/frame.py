"""The metric frame: the tidy table every layer passes around.

One row per (module, timestamp); columns ``module``, ``timestamp`` (tz-aware UTC) and one per
:data:`~nexus_ml.domain.metrics.METRIC_FIELDS`. Missing observations are NaN, never dropped
silently: data-quality reports count them.
"""

from __future__ import annotations

import pandas as pd

from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import InputError

KEY_COLUMNS: tuple[str, ...] = ("module", "timestamp")
FRAME_COLUMNS: tuple[str, ...] = KEY_COLUMNS + METRIC_FIELDS


def empty_metric_frame() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in FRAME_COLUMNS})
    frame["module"] = frame["module"].astype("object")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def validate_metric_frame(frame: pd.DataFrame, *, source: str = "metric frame") -> pd.DataFrame:
    """Check columns and types; return the frame sorted by (module, timestamp).

    Raises
    ------
    InputError
        Naming ``source`` and the first missing column or bad timestamp type.
    """
    missing = [c for c in FRAME_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{source}: missing column(s) {', '.join(missing)}", source=source)
    ts = frame["timestamp"]
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        try:
            frame = frame.assign(timestamp=pd.to_datetime(ts, utc=True))
        except (ValueError, TypeError) as exc:
            raise InputError(f"{source}: column timestamp is not a timestamp ({exc})") from exc
    elif str(ts.dt.tz) != "UTC":
        frame = frame.assign(timestamp=ts.dt.tz_convert("UTC"))
    return frame.sort_values(list(KEY_COLUMNS), kind="stable").reset_index(drop=True)
