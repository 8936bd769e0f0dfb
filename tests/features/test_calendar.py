"""Local time and calendar features on known São Paulo dates (UTC−3 since 2019; UTC−2 in the
old summers), checked against Python's wall clock in other zones."""

from __future__ import annotations

from calendar import monthrange
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from nexus_ml.errors import InputError
from nexus_ml.features.calendar import (
    CALENDAR_COLUMNS,
    FEATURE_BUSINESS_HOURS,
    OFFICE_HOURS,
    BusinessHours,
    LocalCalendar,
    calendar_features,
)


def features_at(*stamps: str) -> pd.DataFrame:
    return calendar_features(pd.DatetimeIndex(pd.to_datetime(list(stamps), utc=True)))


def test_business_hours_start_at_eight_local_on_weekdays() -> None:
    # Monday 2024-03-04: 11:00 UTC is 08:00 in São Paulo, 10:59 UTC is 07:59.
    f = features_at("2024-03-04 10:59", "2024-03-04 11:00", "2024-03-04 20:59", "2024-03-04 21:00")
    assert f["business_hours"].tolist() == [0.0, 1.0, 1.0, 0.0]
    assert f["weekend"].tolist() == [0.0] * 4


def test_weekend_follows_local_midnight_not_utc() -> None:
    # Saturday 00:30 UTC is still Friday 21:30 in São Paulo; Sunday 23:00 local is Monday UTC.
    f = features_at("2024-03-09 00:30", "2024-03-09 03:00", "2024-03-11 02:00", "2024-03-11 03:00")
    assert f["weekend"].tolist() == [0.0, 1.0, 1.0, 0.0]
    assert f["business_hours"].sum() == 0.0  # none of these is inside business hours


def test_daylight_saving_years_use_the_old_offset() -> None:
    # 2018-12-03 (Monday) was in São Paulo's summer time, UTC−2: 10:00 UTC is 08:00 local.
    f = features_at("2018-12-03 09:59", "2018-12-03 10:00")
    assert f["business_hours"].tolist() == [0.0, 1.0]


def test_month_end_is_the_last_three_local_days() -> None:
    # February 2024 has 29 days; 2024-03-01 02:00 UTC is still 29 February locally.
    f = features_at(
        "2024-02-26 12:00",
        "2024-02-27 12:00",
        "2024-02-29 12:00",
        "2024-03-01 02:00",
        "2024-03-01 12:00",
    )
    assert f["month_end"].tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_long_spans_match_pandas_local_time_across_dst_changes() -> None:
    index = pd.date_range("2017-09-01", "2018-04-01", freq="37min", tz="UTC")
    got = calendar_features(index)
    local = index.tz_convert("America/Sao_Paulo")
    weekend = local.dayofweek >= 5
    assert list(got.columns) == list(CALENDAR_COLUMNS)
    assert (got["weekend"].to_numpy() == weekend).all()
    hours = (local.hour >= 8) & (local.hour < 18) & ~weekend
    assert (got["business_hours"].to_numpy() == hours).all()


def test_naive_timestamps_and_bad_hours_are_refused_with_the_value() -> None:
    with pytest.raises(InputError, match="naive"):
        calendar_features(pd.date_range("2024-01-01", periods=3, freq="h"))
    with pytest.raises(InputError, match="start=19, end=18"):
        calendar_features(
            pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC"), business_start=19
        )


# --- LocalCalendar: the one local-time implementation (simulator, demo and features) ---------

# Instants around São Paulo's last DST changes, a leap February and an ordinary month end.
# The expected fields were computed with the two implementations this module replaced
# (nexus_ml/sim/calendar.py and the old features fast path) and agree with a wall clock:
PINNED = [
    "2018-11-04 02:59:59",  # Sat 3 Nov 23:59:59 (UTC−3)
    "2018-11-04 03:00:00",  # Sun 4 Nov 01:00 (summer time starts: midnight is skipped)
    "2019-02-17 01:59:59",  # Sat 16 Feb 23:59:59 (UTC−2)
    "2019-02-17 02:00:00",  # Sat 16 Feb 23:00 again (summer time ends)
    "2016-02-29 02:30:00",  # Sun 28 Feb 23:30, leap year
    "2016-03-01 02:30:00",  # Mon 29 Feb 23:30
    "2024-03-04 11:00:00",  # Mon 4 Mar 08:00
    "2024-03-09 02:59:00",  # Fri 8 Mar 23:59
    "2025-12-31 23:15:00",  # Wed 31 Dec 20:15
]
PINNED_HOUR = [
    23.99972222222222,
    1.0,
    23.99972222222222,
    23.0,
    23.5,
    23.5,
    8.0,
    23.98333333333333,
    20.25,
]
PINNED_WEEKDAY = [5, 6, 5, 5, 6, 0, 0, 4, 2]
PINNED_DAY = [3, 4, 16, 16, 28, 29, 4, 8, 31]
PINNED_DAYS_IN_MONTH = [30, 30, 28, 28, 29, 29, 31, 31, 31]


def _epoch(stamps: list[str]) -> np.ndarray:
    return np.asarray(pd.to_datetime(stamps, utc=True).asi8 // 1_000_000_000, dtype=np.int64)


def _assert_pinned(cal: LocalCalendar, at: list[int]) -> None:
    np.testing.assert_allclose(cal.hour, np.take(PINNED_HOUR, at), rtol=0, atol=1e-12)
    assert cal.weekday.tolist() == np.take(PINNED_WEEKDAY, at).tolist()
    assert cal.day.tolist() == np.take(PINNED_DAY, at).tolist()
    assert cal.days_in_month.tolist() == np.take(PINNED_DAYS_IN_MONTH, at).tolist()


def test_local_calendar_keeps_the_pinned_fields_one_instant_at_a_time() -> None:
    for i, t in enumerate(_epoch(PINNED)):  # the live simulator's per-instant path
        _assert_pinned(LocalCalendar.from_epoch(np.array([t])), [i])


def test_local_calendar_keeps_the_pinned_fields_vectorised() -> None:
    t = np.tile(_epoch(PINNED), 3)[::-1]  # long enough for the pandas path, and unsorted
    at = np.tile(np.arange(len(PINNED)), 3)[::-1].tolist()
    _assert_pinned(LocalCalendar.from_epoch(t), at)
    _assert_pinned(
        LocalCalendar.from_index(pd.DatetimeIndex(pd.to_datetime(t, unit="s", utc=True))), at
    )


def test_calendar_features_keep_the_pinned_indicators() -> None:
    f = features_at(*PINNED)
    assert f["business_hours"].tolist() == [0, 0, 0, 0, 0, 0, 1, 0, 0]
    assert f["weekend"].tolist() == [1, 1, 1, 1, 1, 0, 0, 0, 0]
    assert f["month_end"].tolist() == [0, 0, 0, 0, 1, 1, 0, 0, 1]


def test_office_hours_and_feature_hours_are_the_two_named_spans() -> None:
    # Monday 2024-03-04 08:30 and 09:00 local: inside the forecaster's span, the office's from 9.
    cal = LocalCalendar.from_epoch(_epoch(["2024-03-04 11:30", "2024-03-04 12:00"]))
    assert cal.is_business_hours().tolist() == [False, True]
    assert cal.is_business_hours(OFFICE_HOURS).tolist() == [False, True]
    assert cal.is_business_hours(FEATURE_BUSINESS_HOURS).tolist() == [True, True]
    assert (OFFICE_HOURS.start, OFFICE_HOURS.end) == (9, 18)
    assert (FEATURE_BUSINESS_HOURS.start, FEATURE_BUSINESS_HOURS.end) == (8, 18)
    with pytest.raises(InputError, match="start=18, end=9"):
        BusinessHours(18, 9)


@pytest.mark.parametrize("zone", ["America/Sao_Paulo", "Europe/Lisbon", "Africa/Casablanca"])
def test_local_calendar_matches_python_wall_clock_in_any_zone(zone: str) -> None:
    # Random instants 1960–2040, unsorted; Casablanca suspends summer time for about a month
    # every Ramadan, the kind of short change a "same offset at both ends" shortcut misses.
    rng = np.random.default_rng(11)
    t = rng.integers(-315_619_200, 2_208_988_800, 3000).astype(np.int64)
    t = np.concatenate([t, np.arange(1_681_000_000, 1_683_000_000, 3_571)])  # Ramadan 2023
    cal = LocalCalendar.from_epoch(t, zone)
    tz = ZoneInfo(zone)
    wall = [datetime.fromtimestamp(int(x), tz) for x in t]
    hour = [d.hour + d.minute / 60 + d.second / 3600 for d in wall]
    np.testing.assert_allclose(cal.hour, hour, rtol=0, atol=1e-9)
    assert cal.weekday.tolist() == [d.weekday() for d in wall]
    assert cal.day.tolist() == [d.day for d in wall]
    assert cal.days_in_month.tolist() == [monthrange(d.year, d.month)[1] for d in wall]
    assert (cal.days_to_month_end == cal.days_in_month - cal.day).all()


def test_unknown_zone_is_refused_with_its_name() -> None:
    with pytest.raises(InputError, match="Mars/Olympus"):
        LocalCalendar.from_epoch(np.arange(3, dtype=np.int64), "Mars/Olympus")
    with pytest.raises(InputError, match="Mars/Olympus"):
        calendar_features(
            pd.date_range("2024-01-01", periods=3, freq="h", tz="UTC"), tz="Mars/Olympus"
        )


def test_features_follow_a_summer_time_pause_shorter_than_the_window() -> None:
    # Morocco is UTC+1 but UTC+0 during Ramadan (19 Mar – 23 Apr 2023): both ends of this
    # window share an offset, the middle does not.
    index = pd.date_range("2023-03-12", "2023-04-30", freq="17min", tz="UTC")
    local = index.tz_convert("Africa/Casablanca")
    expected = (local.hour >= 8) & (local.hour < 18) & (local.dayofweek < 5)
    got = calendar_features(index, tz="Africa/Casablanca")["business_hours"].to_numpy()
    assert (got == expected).all()
