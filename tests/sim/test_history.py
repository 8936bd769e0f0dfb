"""The history frame: its shape, the live simulator's agreement with it, the metric model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.domain.frame import FRAME_COLUMNS, validate_metric_frame
from nexus_ml.domain.metrics import ContainerHealthMetrics
from nexus_ml.errors import InputError
from nexus_ml.sim import TRUTH_COLUMNS, ErpSimulator, ErrorBurst, simulate_history

START = datetime(2026, 2, 2, 3, 0, tzinfo=UTC)  # Monday 00:00 São Paulo


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def frame(catalog: Catalog) -> pd.DataFrame:
    return simulate_history(catalog, start=START, days=3, seed=4)


def test_frame_is_a_valid_metric_frame_with_ground_truth(
    frame: pd.DataFrame, catalog: Catalog
) -> None:
    assert list(frame.columns) == [*FRAME_COLUMNS, *TRUTH_COLUMNS]
    assert len(frame) == 3 * 1440 * len(catalog.modules)
    pd.testing.assert_frame_equal(validate_metric_frame(frame), frame)
    assert str(frame["timestamp"].dt.tz) == "UTC"
    assert frame["timestamp"].min() == pd.Timestamp(START)
    assert frame.groupby("module")["timestamp"].diff().dropna().eq(pd.Timedelta(minutes=1)).all()
    assert frame[[*FRAME_COLUMNS[2:], *TRUTH_COLUMNS]].notna().all().all()
    # Every row is a valid domain observation.
    for row in frame.sample(50, random_state=0).itertuples():
        ContainerHealthMetrics(**{k: getattr(row, k) for k in FRAME_COLUMNS})


def test_replicas_stay_within_catalog_limits(frame: pd.DataFrame, catalog: Catalog) -> None:
    for profile in catalog:
        replicas = frame.loc[frame["module"] == profile.name, "replicas"]
        assert replicas.min() >= profile.min_replicas
        assert replicas.max() <= profile.max_replicas


def test_live_simulator_agrees_with_history(frame: pd.DataFrame, catalog: Catalog) -> None:
    sim = ErpSimulator(catalog, seed=4)
    for row in frame.sample(20, random_state=1).itertuples():
        other = frame[(frame["timestamp"] == row.timestamp)]
        replicas = dict(zip(other["module"], other["replicas"], strict=True))
        observed = sim.observe(row.timestamp.to_pydatetime(), replicas)[row.module]
        for field in FRAME_COLUMNS[2:]:
            assert getattr(observed, field) == pytest.approx(getattr(row, field), rel=1e-9)


def test_live_simulator_takes_incidents_at_runtime(catalog: Catalog) -> None:
    sim = ErpSimulator(catalog, seed=4)
    now = START + timedelta(hours=13)
    healthy = sim.observe(now, {"crm": 2})["nexus-crm"].error_rate
    sim.inject(ErrorBurst(module="crm", start=now, duration=timedelta(minutes=5), magnitude=0.5))
    assert sim.observe(now, {"crm": 2})["nexus-crm"].error_rate > healthy + 0.49
    sim.clear()
    assert sim.observe(now, {"crm": 2})["nexus-crm"].error_rate == healthy


def test_response_time_and_errors_rise_with_utilisation(catalog: Catalog) -> None:
    # Three replicas of user-management for a working day: utilisation sweeps 0.1 → > 1.
    frame = simulate_history(
        catalog, start=START, days=1, seed=2, replicas={"nexus-user-management": 3}
    )
    um = frame[frame["module"] == "nexus-user-management"]
    capacity = 3 * catalog.get("user-management").capacity_rpm_per_replica
    u = um["demand_rpm"] / capacity
    bins = pd.cut(u, [0.0, 0.3, 0.5, 0.7, 0.85, 0.95, 1.1, 10.0])
    by_bin = um.groupby(bins, observed=True)[["response_time", "error_rate", "cpu_usage"]].median()
    assert len(by_bin) >= 5
    assert by_bin["response_time"].is_monotonic_increasing
    assert by_bin["cpu_usage"].iloc[:-1].is_monotonic_increasing  # then saturated near 1
    assert by_bin["cpu_usage"].iloc[-1] > 0.9
    overloaded = um[u > 1.1]
    assert len(overloaded) > 0
    assert overloaded["error_rate"].min() > 0.05
    assert (um.loc[u < 0.5, "error_rate"] < 0.02).all()
    # Little's law: connections = arrival rate × response time.
    np.testing.assert_allclose(
        um["active_connections"], um["demand_rpm"] / 60 * um["response_time"] / 1000
    )


def test_fixed_and_per_step_replicas(catalog: Catalog) -> None:
    steps = 1440
    ramp = np.repeat([1, 2, 3, 4], steps // 4)
    frame = simulate_history(
        catalog, start=START, days=1, seed=0, replicas={"nexus-crm": ramp, "agendamento": 2}
    )
    crm = frame[frame["module"] == "nexus-crm"]
    np.testing.assert_array_equal(crm["replicas"], ramp)
    assert (frame.loc[frame["module"] == "nexus-agendamento", "replicas"] == 2).all()
    with pytest.raises(InputError, match="nexus-crm"):
        simulate_history(catalog, start=START, days=1, replicas={"nexus-crm": [1, 2, 3]})
    with pytest.raises(InputError, match="-2"):
        simulate_history(catalog, start=START, days=-2)


def test_zero_replicas_means_every_request_fails(catalog: Catalog) -> None:
    frame = simulate_history(catalog, start=START, days=0.1, replicas={"nexus-crm": 0})
    crm = frame[frame["module"] == "nexus-crm"]
    assert (crm["error_rate"] == 1.0).all()
    assert (crm["cpu_usage"] == 0.0).all()


def test_step_wise_simulation_walks_the_clock(frame: pd.DataFrame, catalog: Catalog) -> None:
    sim = ErpSimulator(catalog, seed=4, start=START + timedelta(hours=12))
    assert sim.now == START + timedelta(hours=12)
    crm = frame[frame["module"] == "nexus-crm"].set_index("timestamp")
    for minute in range(3):
        at = sim.now
        snap = sim.step({"nexus-crm": int(crm.loc[at, "replicas"])})["nexus-crm"]
        assert snap.timestamp == at == START + timedelta(hours=12, minutes=minute)
        assert snap.demand_rpm == pytest.approx(crm.loc[at, "demand_rpm"], rel=1e-12)
    assert sim.now == START + timedelta(hours=12, minutes=3)
