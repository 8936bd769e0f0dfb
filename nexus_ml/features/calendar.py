"""Calendar features of the ERP's users: business hours, weekends and month-end in São Paulo.

The Nexus ERP is used by Brazilian companies, so load follows the wall clock of
``America/Sao_Paulo`` (UTC−3; it had daylight saving time until 2019, which the tz database
handles). Features are floats (0.0 / 1.0) so they drop straight into a regression design.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nexus_ml.errors import InputError

DEFAULT_TZ = "America/Sao_Paulo"
CALENDAR_COLUMNS: tuple[str, ...] = ("business_hours", "weekend", "month_end")


def _local_index(index: pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        raise InputError(f"calendar features need a DatetimeIndex, got {type(index).__name__}")
    if index.tz is None:
        raise InputError("calendar features need tz-aware timestamps, got naive ones")
    return index.tz_convert(tz)


def _local_fields(index: pd.DatetimeIndex, tz: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local hour, day of week (Monday = 0) and days left in the month.

    Fast path: when the UTC offset is the same at both ends (no daylight-saving change in
    between, always true for São Paulo since 2019), shift once and use datetime64 arithmetic;
    a forecaster calls this on every prediction.
    """
    if index.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    first = _local_index(index[:1], tz)
    last = _local_index(index[-1:], tz)
    offset = first[0].utcoffset()
    # Equal offsets at both ends of a span shorter than any DST period: no change inside.
    short = index.is_monotonic_increasing and (index[-1] - index[0]) < pd.Timedelta(days=60)
    if short and offset is not None and offset == last[0].utcoffset():
        utc = index.tz_convert("UTC").tz_localize(None).to_numpy()
        local = utc + np.timedelta64(offset)
    else:
        local = _local_index(index, tz).tz_localize(None).to_numpy()
    days = local.astype("datetime64[D]")
    hour = ((local - days) // np.timedelta64(1, "h")).astype(np.int64)
    dayofweek = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    month = days.astype("datetime64[M]")
    next_month = (month + 1).astype("datetime64[D]")
    days_left = ((next_month - days) // np.timedelta64(1, "D")).astype(np.int64) - 1
    return hour, dayofweek, days_left


def calendar_features(
    index: pd.DatetimeIndex,
    *,
    tz: str = DEFAULT_TZ,
    business_start: int = 8,
    business_end: int = 18,
    month_end_days: int = 3,
) -> pd.DataFrame:
    """Calendar indicators for each timestamp, in the local time of ``tz``.

    Parameters
    ----------
    index
        Tz-aware timestamps (any zone; converted to ``tz``).
    tz
        IANA zone of the users.
    business_start, business_end
        Business hours are ``[business_start, business_end)`` local time on weekdays.
    month_end_days
        The last ``month_end_days`` calendar days of each month count as month-end (closing,
        invoicing and payroll runs in an ERP).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``index``, with float columns :data:`CALENDAR_COLUMNS`.

    Raises
    ------
    InputError
        Naive timestamps or hours outside ``0 <= start < end <= 24``.
    """
    if not 0 <= business_start < business_end <= 24:
        raise InputError(
            "business hours must satisfy 0 <= start < end <= 24, "
            f"got start={business_start}, end={business_end}"
        )
    if month_end_days < 0:
        raise InputError(f"month_end_days must be >= 0, got {month_end_days}")
    hour, dayofweek, days_left = _local_fields(index, tz)
    weekend = dayofweek >= 5
    in_hours = (hour >= business_start) & (hour < business_end) & ~weekend
    month_end = days_left < month_end_days
    matrix = np.column_stack([in_hours, weekend, month_end]).astype(float)
    return pd.DataFrame(matrix, index=index, columns=list(CALENDAR_COLUMNS))
