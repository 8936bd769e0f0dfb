"""Each incident is visible in the metrics it should move, and only around its window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.errors import InputError, NotFoundError
from nexus_ml.sim import (
    BadRelease,
    DemandSurge,
    ErpSimulator,
    ErrorBurst,
    Incident,
    LatencyDegradation,
    MemoryLeak,
    SlowDependency,
    parse_incident,
    simulate_history,
)

START = datetime(2026, 3, 9, 3, 0, tzinfo=UTC)  # Monday 00:00 São Paulo
AT_10 = START + timedelta(days=1, hours=10)  # Tuesday 10:00 local, business hours
HOUR = timedelta(hours=1)
FIXED = {"nexus-user-management": 4, "nexus-agendamento": 2, "nexus-crm": 2}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _run(catalog: Catalog, *incidents: Incident) -> pd.DataFrame:
    # Fixed replicas: the incident's effect is not hidden by autoscaling.
    return simulate_history(
        catalog, start=START, days=2, seed=1, incidents=incidents, replicas=FIXED
    )


@pytest.fixture(scope="module")
def baseline(catalog: Catalog) -> pd.DataFrame:
    return _run(catalog)


def _window(frame: pd.DataFrame, module: str, start: datetime, end: datetime) -> pd.DataFrame:
    rows = frame[(frame["module"] == module) & (frame["timestamp"] >= start)]
    return rows[rows["timestamp"] < end]


def test_memory_leak_makes_memory_rise_then_drop(catalog: Catalog, baseline: pd.DataFrame) -> None:
    leak = MemoryLeak(module="agendamento", start=AT_10, duration=6 * HOUR, magnitude=0.4)
    frame = _run(catalog, leak)
    during = _window(frame, "nexus-agendamento", AT_10, leak.end)["memory_usage"].to_numpy()
    before = _window(baseline, "nexus-agendamento", AT_10, leak.end)["memory_usage"].to_numpy()
    # Rising: the last half hour is well above the first, and above the leak-free run.
    assert during[-30:].mean() - during[:30].mean() > 0.3
    assert during[-30:].mean() - before[-30:].mean() > 0.35
    after = _window(frame, "nexus-agendamento", leak.end, leak.end + HOUR)["memory_usage"]
    assert after.mean() < during[-30:].mean() - 0.3  # restarted
    others = frame[frame["module"] != "nexus-agendamento"].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        others, baseline[baseline["module"] != "nexus-agendamento"].reset_index(drop=True)
    )


def test_latency_degradation_raises_response_time_and_errors_then_crashes(
    catalog: Catalog, baseline: pd.DataFrame
) -> None:
    incident = LatencyDegradation(module="crm", start=AT_10, duration=2 * HOUR, magnitude=6.0)
    frame = _run(catalog, incident)
    crm = _window(frame, "nexus-crm", AT_10, incident.end)
    base = _window(baseline, "nexus-crm", AT_10, incident.end)
    first, last = slice(0, 20), slice(-30, -8)  # the crash is the last 6 minutes
    assert crm["response_time"].iloc[last].mean() > 4 * base["response_time"].iloc[last].mean()
    assert crm["response_time"].iloc[last].mean() > 3 * crm["response_time"].iloc[first].mean()
    assert crm["error_rate"].iloc[last].mean() > 10 * base["error_rate"].iloc[last].mean()
    assert crm["error_rate"].iloc[-3:].min() > 0.9  # crashed


def test_error_burst_raises_error_rate(catalog: Catalog, baseline: pd.DataFrame) -> None:
    burst = ErrorBurst(
        module="user-management", start=AT_10, duration=timedelta(minutes=20), magnitude=0.3
    )
    frame = _run(catalog, burst)
    during = _window(frame, "nexus-user-management", AT_10, burst.end)["error_rate"]
    after = _window(frame, "nexus-user-management", burst.end, burst.end + HOUR)["error_rate"]
    assert len(during) == 20
    assert during.min() > 0.29
    assert after.max() < 0.05


def test_bad_release_steps_up_errors_and_latency_after_the_deploy(
    catalog: Catalog, baseline: pd.DataFrame
) -> None:
    release = BadRelease(module="crm", start=AT_10, duration=3 * HOUR, magnitude=1.0)
    frame = _run(catalog, release)
    before = _window(frame, "nexus-crm", AT_10 - HOUR, AT_10)
    after = _window(frame, "nexus-crm", AT_10, AT_10 + HOUR)
    assert after["error_rate"].mean() > 0.04 > 5 * before["error_rate"].mean()
    assert after["response_time"].mean() > 1.7 * before["response_time"].mean()
    sim = ErpSimulator(catalog, incidents=[release])
    assert sim.version_of("crm", AT_10 - HOUR) == "1"
    assert sim.version_of("crm", AT_10 + HOUR) == "2"
    assert sim.version_of("crm", release.end + HOUR) == "1"  # rolled back


def test_slow_dependency_shows_in_network_latency(catalog: Catalog, baseline: pd.DataFrame) -> None:
    slow = SlowDependency(
        module="crm", target="user-management", start=AT_10, duration=HOUR, magnitude=800.0
    )
    frame = _run(catalog, slow)
    during = _window(frame, "nexus-crm", AT_10, slow.end)
    base = _window(baseline, "nexus-crm", AT_10, slow.end)
    assert during["network_latency"].min() > 500.0
    assert base["network_latency"].max() < 10.0
    # The caller's own response time carries the slow call.
    assert (during["response_time"] - base["response_time"].to_numpy()).min() > 700.0
    snap = ErpSimulator(catalog, incidents=[slow]).snapshot(
        AT_10 + 10 * timedelta(minutes=1), FIXED
    )
    assert snap["nexus-crm"].link_latency_ms["nexus-user-management"] > 500.0
    assert snap["nexus-agendamento"].network_latency < 10.0  # other links stay fast


def test_demand_surge_raises_demand_and_utilisation(
    catalog: Catalog, baseline: pd.DataFrame
) -> None:
    surge = DemandSurge(module="crm", start=AT_10, duration=2 * HOUR, magnitude=1.0)
    frame = _run(catalog, surge)
    mid = (AT_10 + 30 * timedelta(minutes=1), AT_10 + 90 * timedelta(minutes=1))
    during = _window(frame, "nexus-crm", *mid)
    base = _window(baseline, "nexus-crm", *mid)
    ratio = during["demand_rpm"].to_numpy() / base["demand_rpm"].to_numpy()
    assert ratio.min() == pytest.approx(2.0)
    assert during["cpu_usage"].mean() > base["cpu_usage"].mean()


def test_parse_incident_round_trip_and_errors() -> None:
    incident = parse_incident(
        "kind=slow_dependency,module=crm,start=2026-03-10T13:00,duration=90m,magnitude=800,"
        "target=user-management"
    )
    assert isinstance(incident, SlowDependency)
    assert incident.target == "user-management"
    assert incident.duration == timedelta(minutes=90)
    assert incident.magnitude == 800.0
    with pytest.raises(InputError, match="'explosion'"):
        parse_incident("kind=explosion,module=crm,start=2026-03-10,duration=1h,magnitude=1")
    with pytest.raises(InputError, match="'soon'"):
        parse_incident("kind=error_burst,module=crm,start=2026-03-10,duration=soon,magnitude=1")
    with pytest.raises(InputError, match="missing field"):
        parse_incident("kind=error_burst,module=crm,duration=1h,magnitude=1")
    with pytest.raises(InputError, match="-1"):
        ErrorBurst(module="crm", start=AT_10, duration=HOUR, magnitude=-1)


def test_unknown_module_is_rejected(catalog: Catalog) -> None:
    with pytest.raises(NotFoundError, match="'nexus-billing'"):
        _run(catalog, ErrorBurst(module="nexus-billing", start=AT_10, duration=HOUR, magnitude=1))
