"""Calendar features on known São Paulo dates (UTC−3 since 2019; UTC−2 in the old summers)."""

from __future__ import annotations

import pandas as pd
import pytest

from nexus_ml.errors import InputError
from nexus_ml.features.calendar import CALENDAR_COLUMNS, calendar_features


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
