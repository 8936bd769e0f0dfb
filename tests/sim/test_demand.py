"""The demand patterns the issue asks for, measured on simulated histories."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.features.calendar import LocalCalendar
from nexus_ml.sim import simulate_history

# Monday 5 Jan 2026 00:00 São Paulo; Jan 29–31 (month end) fall on Thu–Sat.
JANUARY = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
# 4 May 2026: May 29–31 fall on Fri–Sun, the hardest case for a month-end rush.
MAY = datetime(2026, 5, 4, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def january(catalog: Catalog) -> pd.DataFrame:
    return simulate_history(catalog, start=JANUARY, days=28, seed=7)


def _calendar(group: pd.DataFrame) -> LocalCalendar:
    t = group["timestamp"].astype("int64").to_numpy() // 1_000_000_000
    return LocalCalendar.from_epoch(t)


def test_business_hours_demand_is_more_than_twice_the_night(january: pd.DataFrame) -> None:
    for module, group in january.groupby("module"):
        cal = _calendar(group)
        demand = group["demand_rpm"].to_numpy()
        business = demand[cal.is_business_hours()].mean()
        night = demand[cal.is_night()].mean()
        assert business > 2 * night, (module, business, night)


def test_weekdays_are_busier_than_weekends(january: pd.DataFrame) -> None:
    for module, group in january.groupby("module"):
        cal = _calendar(group)
        demand = group["demand_rpm"].to_numpy()
        mid = (cal.day >= 6) & (cal.day <= 25)
        weekday = demand[mid & (cal.weekday < 5)].mean()
        weekend = demand[mid & (cal.weekday >= 5)].mean()
        assert weekday > 1.5 * weekend, (module, weekday, weekend)


@pytest.mark.parametrize("start", [JANUARY, MAY], ids=["january", "may"])
def test_crm_month_end_demand_is_more_than_twice_mid_month(
    catalog: Catalog, start: datetime
) -> None:
    frame = simulate_history(catalog.model_copy(), start=start, days=28, seed=3)
    crm = frame[frame["module"] == "nexus-crm"]
    cal = _calendar(crm)
    demand = crm["demand_rpm"].to_numpy()
    month_end = demand[cal.days_to_month_end < 3].mean()
    mid_month = demand[(cal.day >= 10) & (cal.day <= 20)].mean()
    assert month_end > 2 * mid_month, (month_end, mid_month)
    # Other modules feel month end too, but much less.
    um = frame[frame["module"] == "nexus-user-management"]["demand_rpm"].to_numpy()
    assert um[cal.days_to_month_end < 3].mean() < 1.8 * um[(cal.day >= 10) & (cal.day <= 20)].mean()


def test_peaks_need_several_replicas_but_mostly_fit_within_max(
    january: pd.DataFrame, catalog: Catalog
) -> None:
    for profile in catalog:
        group = january[january["module"] == profile.name]
        at_target = profile.capacity_rpm_per_replica * profile.target_utilisation
        needed = np.ceil(group["demand_rpm"].to_numpy() / at_target)
        assert needed.max() >= 2, profile.name
        assert (needed > profile.max_replicas).mean() < 0.01, profile.name
    um = january[january["module"] == "nexus-user-management"]
    assert um["replicas"].max() >= 4  # the reactive autoscaler really scales


def test_same_seed_same_frame_other_seed_other_frame(catalog: Catalog) -> None:
    a = simulate_history(catalog, start=JANUARY, days=2, seed=11)
    b = simulate_history(catalog, start=JANUARY, days=2, seed=11)
    c = simulate_history(catalog, start=JANUARY, days=2, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["demand_rpm"], c["demand_rpm"])
    # Different seeds differ in the noise, not in the rhythm.
    assert np.corrcoef(a["demand_rpm"], c["demand_rpm"])[0, 1] > 0.9


def test_noise_of_a_module_does_not_depend_on_the_rest_of_the_catalog(catalog: Catalog) -> None:
    only_crm = Catalog(modules=(catalog.get("nexus-user-management"), catalog.get("crm")))
    full = simulate_history(catalog, start=JANUARY, days=1, seed=5)
    part = simulate_history(only_crm, start=JANUARY, days=1, seed=5)
    a = full[full["module"] == "nexus-crm"]["demand_rpm"].to_numpy()
    b = part[part["module"] == "nexus-crm"]["demand_rpm"].to_numpy()
    np.testing.assert_array_equal(a, b)
