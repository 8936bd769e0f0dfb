"""The ERP users' calendar: local hour, weekday and month-end in São Paulo.

The Nexus ERP is used by Brazilian companies, so load follows the wall clock of
``America/Sao_Paulo`` (UTC−3; it had daylight saving time until 2019, which the tz database
handles). This module is the one place that turns instants into local time:

- :class:`LocalCalendar` — local hour, weekday, day of month and month length of a time axis;
  the simulator draws demand from it and the demo summarises by it.
- :func:`calendar_features` — the forecaster's regression indicators (business hours, weekend,
  month-end) as float columns, built on :class:`LocalCalendar`.

The two readers use different business-hour spans, named here: :data:`OFFICE_HOURS` (weekdays
09–18, the demo's "busy" hours) and :data:`FEATURE_BUSINESS_HOURS` (weekdays 08–18, the
forecaster's indicator).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd

from nexus_ml.errors import InputError

DEFAULT_TZ = "America/Sao_Paulo"
SAO_PAULO = ZoneInfo(DEFAULT_TZ)
CALENDAR_COLUMNS: tuple[str, ...] = ("business_hours", "weekend", "month_end")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Below this many instants per-element zoneinfo beats pandas' fixed overhead (the live
# simulator asks about one instant per step).
_SMALL = 8


@dataclass(frozen=True)
class BusinessHours:
    """Weekday hours ``[start, end)`` in local time (whole hours, 0–24).

    Raises
    ------
    InputError
        Unless ``0 <= start < end <= 24``.
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end <= 24:
            raise InputError(
                "business hours must satisfy 0 <= start < end <= 24, "
                f"got start={self.start}, end={self.end}"
            )


#: Weekdays 09:00–18:00: what the demo and the simulator tests call business hours.
OFFICE_HOURS = BusinessHours(9, 18)
#: Weekdays 08:00–18:00: the forecaster's ``business_hours`` indicator.
FEATURE_BUSINESS_HOURS = BusinessHours(8, 18)


def as_zone(tz: str | ZoneInfo) -> ZoneInfo:
    """``tz`` as a :class:`~zoneinfo.ZoneInfo` (an IANA name or a zone)."""
    if isinstance(tz, ZoneInfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(f"unknown time zone {tz!r}") from exc


def _epoch_seconds(values: npt.NDArray[np.datetime64]) -> IntArray:
    return np.asarray(values.astype("datetime64[s]").astype(np.int64))  # numpy floors


def _local_seconds(t: IntArray, zone: ZoneInfo) -> IntArray:
    """Epoch seconds ``t`` shifted to the wall clock of ``zone`` (still counted from 1970)."""
    if t.size <= _SMALL:
        offsets = [zone.utcoffset(datetime.fromtimestamp(int(x), zone)) for x in t]
        shift = [int(o.total_seconds()) if o is not None else 0 for o in offsets]
        return t + np.asarray(shift, dtype=np.int64)
    # pandas with the ZoneInfo itself, not its name: a name would go through pytz, whose
    # tables stop in 2037 (~0.4 µs an instant instead of ~0.01, exact in every year).
    utc = pd.DatetimeIndex(t.astype("datetime64[s]")).tz_localize("UTC")
    local = utc.tz_convert(zone).tz_localize(None)
    return _epoch_seconds(local.to_numpy())


def _hour_of_day(seconds: IntArray, *, small: bool) -> FloatArray:
    """Seconds since local midnight as fractional hours.

    The per-instant path has always summed h + m/60 + s/3600 (the live simulator's published
    values depend on it bit for bit); the two formulas differ by at most a few 1e-15 h.
    """
    if small:
        return seconds // 3600 + (seconds % 3600 // 60) / 60.0 + (seconds % 60) / 3600.0
    return seconds / 3600.0


@dataclass(frozen=True)
class LocalCalendar:
    """Calendar fields of epoch seconds ``t`` in a local zone.

    Attributes
    ----------
    t
        Epoch seconds (UTC), int64.
    hour
        Local hour of day as a float (14.5 = 14:30).
    weekday
        Local day of week, Monday = 0.
    day, days_in_month
        Local day of month and the length of that month.
    """

    t: IntArray
    hour: FloatArray
    weekday: IntArray
    day: IntArray
    days_in_month: IntArray

    @classmethod
    def from_epoch(cls, t: IntArray, zone: str | ZoneInfo = SAO_PAULO) -> LocalCalendar:
        """Fields of epoch seconds ``t`` (any order) in ``zone``."""
        t = np.asarray(t, dtype=np.int64)
        local_s = _local_seconds(t, as_zone(zone))
        # Every field from plain integer arithmetic on the local clock.
        days = local_s // 86400  # floor: days before 1970 stay whole days
        months = days.astype("datetime64[D]").astype("datetime64[M]")
        first = months.astype("datetime64[D]").astype(np.int64)
        next_first = (months + 1).astype("datetime64[D]").astype(np.int64)
        return cls(
            t=t,
            hour=_hour_of_day(local_s - days * 86400, small=t.size <= _SMALL),
            weekday=(days + 3) % 7,  # 1970-01-01 was a Thursday
            day=days - first + 1,
            days_in_month=next_first - first,
        )

    @classmethod
    def from_index(cls, index: pd.DatetimeIndex, zone: str | ZoneInfo = SAO_PAULO) -> LocalCalendar:
        """Fields of tz-aware timestamps (any zone; sub-second parts are dropped).

        Raises
        ------
        InputError
            Not a :class:`pandas.DatetimeIndex`, or naive timestamps.
        """
        if not isinstance(index, pd.DatetimeIndex):
            raise InputError(f"calendar features need a DatetimeIndex, got {type(index).__name__}")
        if index.tz is None:
            raise InputError("calendar features need tz-aware timestamps, got naive ones")
        return cls.from_epoch(
            _epoch_seconds(index.tz_convert("UTC").tz_localize(None).to_numpy()), zone
        )

    @property
    def days_to_month_end(self) -> IntArray:
        """0 on the last day of the month, 1 the day before, …"""
        return self.days_in_month - self.day

    def is_weekend(self) -> BoolArray:
        """Saturday or Sunday, local time."""
        return self.weekday >= 5

    def is_business_hours(self, hours: BusinessHours = OFFICE_HOURS) -> BoolArray:
        """Weekdays inside ``hours`` local time (default :data:`OFFICE_HOURS`, 09–18)."""
        return ~self.is_weekend() & (self.hour >= hours.start) & (self.hour < hours.end)

    def is_night(self) -> BoolArray:
        """00:00–06:00 local time, any day."""
        return self.hour < 6.0


def calendar_features(
    index: pd.DatetimeIndex,
    *,
    tz: str = DEFAULT_TZ,
    business_start: int = FEATURE_BUSINESS_HOURS.start,
    business_end: int = FEATURE_BUSINESS_HOURS.end,
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
        Business hours are ``[business_start, business_end)`` local time on weekdays
        (default :data:`FEATURE_BUSINESS_HOURS`).
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
        Naive timestamps, an unknown zone or hours outside ``0 <= start < end <= 24``.
    """
    hours = BusinessHours(business_start, business_end)
    if month_end_days < 0:
        raise InputError(f"month_end_days must be >= 0, got {month_end_days}")
    cal = LocalCalendar.from_index(index, tz)
    month_end = cal.days_to_month_end < month_end_days
    columns = [cal.is_business_hours(hours), cal.is_weekend(), month_end]
    matrix = np.column_stack(columns).astype(float)
    return pd.DataFrame(matrix, index=index, columns=list(CALENDAR_COLUMNS))
