"""Local-time features of a time axis (America/Sao_Paulo), computed once per axis."""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd

SAO_PAULO = ZoneInfo("America/Sao_Paulo")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class LocalCalendar:
    """Calendar features of epoch seconds ``t`` in a local zone.

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
    def from_epoch(cls, t: IntArray, zone: ZoneInfo = SAO_PAULO) -> LocalCalendar:
        """Features of epoch seconds ``t`` (vectorised through pandas' tz database)."""
        t = np.asarray(t, dtype=np.int64)
        if t.size <= 8:  # the live simulator asks about one instant: skip pandas' overhead
            return cls._from_datetimes(t, zone)
        # One time-zone conversion; every field then comes from plain integer arithmetic.
        utc = pd.DatetimeIndex(pd.to_datetime(t, unit="s", utc=True))
        naive = utc.tz_convert(zone).tz_localize(None).to_numpy().astype("datetime64[s]")
        local_s = naive.astype(np.int64)
        days = naive.astype("datetime64[D]")
        months = naive.astype("datetime64[M]")
        first = months.astype("datetime64[D]")
        return cls(
            t=t,
            hour=(local_s % 86400) / 3600.0,
            weekday=(days.astype(np.int64) + 3) % 7,  # 1970-01-01 was a Thursday
            day=(days - first).astype(np.int64) + 1,
            days_in_month=((months + 1).astype("datetime64[D]") - first).astype(np.int64),
        )

    @classmethod
    def _from_datetimes(cls, t: IntArray, zone: ZoneInfo) -> LocalCalendar:
        local = [datetime.fromtimestamp(int(x), zone) for x in t]
        return cls(
            t=t,
            hour=np.array([d.hour + d.minute / 60.0 + d.second / 3600.0 for d in local]),
            weekday=np.array([d.weekday() for d in local], dtype=np.int64),
            day=np.array([d.day for d in local], dtype=np.int64),
            days_in_month=np.array([monthrange(d.year, d.month)[1] for d in local], dtype=np.int64),
        )

    @property
    def days_to_month_end(self) -> IntArray:
        """0 on the last day of the month, 1 the day before, …"""
        return self.days_in_month - self.day

    def is_business_hours(self) -> npt.NDArray[np.bool_]:
        """Weekdays 09:00–18:00 local time."""
        return (self.weekday < 5) & (self.hour >= 9.0) & (self.hour < 18.0)

    def is_night(self) -> npt.NDArray[np.bool_]:
        """00:00–06:00 local time, any day."""
        return self.hour < 6.0
