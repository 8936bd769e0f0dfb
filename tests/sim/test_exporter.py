"""The live exporter, scraped over HTTP on loopback and parsed like Prometheus would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.sim import ErpSimulator, ErrorBurst
from nexus_ml.sim.exporter import SERVICE_LABEL, SimClock, SimExporter

SP = ZoneInfo("America/Sao_Paulo")
MONTH_END = datetime(2026, 1, 30, 14, 0, tzinfo=SP)  # a Friday, 14:00, month-end rush
MID_MONTH = datetime(2026, 1, 15, 14, 0, tzinfo=SP)  # a Thursday, 14:00
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class FakeWall:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=5)
    response.raise_for_status()
    out: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, metric: str, /, **labels: str) -> float:
    return samples[(metric, frozenset(labels.items()))]


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


@pytest.fixture
def replicas() -> dict[str, int]:
    return {"nexus-user-management": 4, "nexus-agendamento": 1, "nexus-crm": 3}


@pytest.fixture
def fake(catalog: Catalog, replicas: dict[str, int]) -> Iterator[tuple[SimExporter, FakeWall]]:
    wall = FakeWall()
    exporter = SimExporter(
        ErpSimulator(catalog, seed=9),
        replicas_of=lambda module: replicas[module],
        clock=SimClock(MONTH_END, wall=wall),
        wall=wall,
        tick_s=3600,  # only scrapes advance the counters: exact arithmetic
    )
    with exporter:
        yield exporter, wall


def test_metric_names_and_labels(fake: tuple[SimExporter, FakeWall], catalog: Catalog) -> None:
    exporter, _ = fake
    assert exporter.port > 0 and exporter.url.startswith("http://127.0.0.1:")
    samples = scrape(exporter.url)
    expected = {
        "container_cpu_usage_seconds_total",
        "container_spec_cpu_quota",
        "container_spec_cpu_period",
        "container_memory_usage_bytes",
        "container_spec_memory_limit_bytes",
        "container_fs_usage_bytes",
        "container_fs_limit_bytes",
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_sum",
        "http_request_duration_seconds_count",
        "http_server_active_connections",
        "nexus_dependency_request_duration_seconds_bucket",
        "nexus_dependency_request_duration_seconds_sum",
        "nexus_dependency_request_duration_seconds_count",
        "nexus_sim_replicas",
        "nexus_sim_demand_rpm",
    }
    assert expected <= names(samples)
    crm = catalog.get("crm")
    for i in (1, 2, 3):
        labels = {SERVICE_LABEL: "nexus-crm", "name": f"nexus-crm.{i}"}
        assert value(samples, "container_spec_cpu_quota", **labels) == crm.cpu_limit * 100_000
        assert value(samples, "container_spec_cpu_period", **labels) == 100_000
        assert value(samples, "container_spec_memory_limit_bytes", **labels) == 2 * 1024**3
    assert value(samples, "http_requests_total", service="nexus-crm", code="500") == 0.0
    assert value(samples, "nexus_sim_replicas", service="nexus-crm") == 3
    buckets = [
        (float(dict(labels)["le"]), v)
        for (name, labels), v in samples.items()
        if name == "http_request_duration_seconds_bucket" and ("service", "nexus-crm") in labels
    ]
    assert min(le for le, _ in buckets) == 0.005 and max(le for le, _ in buckets) == float("inf")
    targets = {
        dict(labels)["target"]
        for (name, labels), _ in samples.items()
        if name == "nexus_dependency_request_duration_seconds_count"
        and ("service", "nexus-agendamento") in labels
    }
    assert targets == {"nexus-crm", "nexus-user-management"}


def test_counter_rates_recover_the_simulated_values(
    fake: tuple[SimExporter, FakeWall], catalog: Catalog, replicas: dict[str, int]
) -> None:
    exporter, wall = fake
    first = scrape(exporter.url)
    truth = ErpSimulator(catalog, seed=9).snapshot(MONTH_END, replicas)  # independent copy
    wall.now += 60.0
    second = scrape(exporter.url)

    def rate(metric: str, /, **labels: str) -> float:
        return (value(second, metric, **labels) - value(first, metric, **labels)) / 60.0

    for profile in catalog:
        snap, service = truth[profile.name], profile.name
        assert value(first, "nexus_sim_demand_rpm", service=service) == pytest.approx(
            snap.demand_rpm
        )
        ok = rate("http_requests_total", service=service, code="200")
        err = rate("http_requests_total", service=service, code="500")
        assert (ok + err) * 60 == pytest.approx(snap.demand_rpm, rel=1e-9)
        assert err / (ok + err) == pytest.approx(snap.error_rate, rel=1e-9)
        count = rate("http_request_duration_seconds_count", service=service)
        total = rate("http_request_duration_seconds_sum", service=service)
        assert count * 60 == pytest.approx(snap.demand_rpm, rel=1e-9)
        assert total / count * 1000 == pytest.approx(snap.response_time, rel=1e-9)
        cpu = sum(
            rate(
                "container_cpu_usage_seconds_total",
                **{SERVICE_LABEL: service, "name": f"{service}.{i}"},
            )
            for i in range(1, replicas[service] + 1)
        )
        assert cpu == pytest.approx(snap.cpu_usage * profile.cpu_limit * replicas[service])
        mem = value(
            first,
            "container_memory_usage_bytes",
            **{SERVICE_LABEL: service, "name": f"{service}.1"},
        )
        assert mem == pytest.approx(snap.memory_usage * profile.memory_limit_gb * 1024**3)
        for target, latency in snap.link_latency_ms.items():
            labels = {"service": service, "target": target}
            mean = rate("nexus_dependency_request_duration_seconds_sum", **labels) / rate(
                "nexus_dependency_request_duration_seconds_count", **labels
            )
            assert mean * 1000 == pytest.approx(latency, rel=1e-9)


def test_replica_series_follow_replicas_of(
    fake: tuple[SimExporter, FakeWall], replicas: dict[str, int]
) -> None:
    exporter, wall = fake

    def crm_containers(samples: Samples) -> set[str]:
        return {
            dict(labels)["name"]
            for (name, labels), _ in samples.items()
            if name == "container_cpu_usage_seconds_total"
            and (SERVICE_LABEL, "nexus-crm") in labels
        }

    assert crm_containers(scrape(exporter.url)) == {"nexus-crm.1", "nexus-crm.2", "nexus-crm.3"}
    replicas["nexus-crm"] = 4
    wall.now += 10
    samples = scrape(exporter.url)
    assert crm_containers(samples) == {f"nexus-crm.{i}" for i in range(1, 5)}
    assert value(samples, "nexus_sim_replicas", service="nexus-crm") == 4
    replicas["nexus-crm"] = 1
    wall.now += 10
    samples = scrape(exporter.url)
    assert crm_containers(samples) == {"nexus-crm.1"}
    # More replicas for the same demand: lower CPU per container.
    assert value(samples, "nexus_sim_replicas", service="nexus-crm") == 1


def test_incidents_injected_at_runtime_move_the_rates(
    fake: tuple[SimExporter, FakeWall],
) -> None:
    exporter, wall = fake
    before = scrape(exporter.url)
    exporter.inject(
        ErrorBurst(
            module="crm", start=exporter.now(), duration=timedelta(minutes=10), magnitude=0.5
        )
    )
    wall.now += 60
    after = scrape(exporter.url)
    err = value(after, "http_requests_total", service="nexus-crm", code="500") - value(
        before, "http_requests_total", service="nexus-crm", code="500"
    )
    ok = value(after, "http_requests_total", service="nexus-crm", code="200") - value(
        before, "http_requests_total", service="nexus-crm", code="200"
    )
    assert err / (err + ok) > 0.5
    exporter.clear()
    wall.now += 60
    cleared = scrape(exporter.url)
    err2 = value(cleared, "http_requests_total", service="nexus-crm", code="500") - value(
        after, "http_requests_total", service="nexus-crm", code="500"
    )
    assert err2 < 0.05 * err


def test_clock_mapping_places_the_exporter_in_simulated_time(catalog: Catalog) -> None:
    fixed = {"nexus-user-management": 4, "nexus-agendamento": 1, "nexus-crm": 3}
    demand = {}
    for label, when in (("end", MONTH_END), ("mid", MID_MONTH)):
        exporter = SimExporter(
            ErpSimulator(catalog, seed=9), replicas_of=fixed.__getitem__, clock=SimClock(when)
        )
        with exporter:
            samples = scrape(exporter.url)
        demand[label] = value(samples, "nexus_sim_demand_rpm", service="nexus-crm")
        assert exporter.now() >= when.astimezone(exporter.now().tzinfo)
    assert demand["end"] > 2 * demand["mid"]


@pytest.mark.slow  # the one test on the real wall clock: it measures a rate over 1.5 s
def test_real_time_rates_match_demand(catalog: Catalog) -> None:
    fixed = {"nexus-user-management": 4, "nexus-agendamento": 1, "nexus-crm": 3}
    exporter = SimExporter(
        ErpSimulator(catalog, seed=9),
        replicas_of=fixed.__getitem__,
        clock=SimClock(MONTH_END),
        tick_s=0.1,
    )
    with exporter:
        first, t0 = scrape(exporter.url), time.monotonic()
        time.sleep(1.5)
        second, t1 = scrape(exporter.url), time.monotonic()
    name = "http_requests_total"
    rpm = (
        sum(
            value(second, name, service="nexus-user-management", code=c)
            - value(first, name, service="nexus-user-management", code=c)
            for c in ("200", "500")
        )
        / (t1 - t0)
        * 60
    )
    truth = value(second, "nexus_sim_demand_rpm", service="nexus-user-management")
    assert rpm == pytest.approx(truth, rel=0.15)
    with pytest.raises(httpx.TransportError):
        httpx.get(exporter.url, timeout=1)  # stopped
