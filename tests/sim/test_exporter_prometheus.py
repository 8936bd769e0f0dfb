"""The live exporter scraped by the real Prometheus: PromQL recovers the simulated values."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.sim import ErpSimulator
from nexus_ml.sim.exporter import SimClock, SimExporter

pytestmark = pytest.mark.integration

MONTH_END = datetime(2026, 1, 30, 14, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))
REPLICAS = {"nexus-user-management": 4, "nexus-agendamento": 2, "nexus-crm": 3}


def query(base: str, promql: str, key: str = "service") -> dict[str, float]:
    """Instant query → {value of label ``key``: value}."""
    response = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=10)
    response.raise_for_status()
    result = response.json()["data"]["result"]
    return {r["metric"].get(key, ""): float(r["value"][1]) for r in result}


@pytest.fixture
def scraped(prometheus_url: str, prometheus_targets_dir: Path) -> Iterator[tuple[SimExporter, str]]:
    tag = f"sim-{uuid.uuid4().hex[:10]}"
    exporter = SimExporter(
        ErpSimulator(load_catalog(), seed=21),
        replicas_of=REPLICAS.__getitem__,
        clock=SimClock(MONTH_END),
        tick_s=0.25,
    ).start()
    target = prometheus_targets_dir / f"{tag}.json"
    tmp = target.with_suffix(".tmp")
    tmp.write_text(
        json.dumps([{"targets": [f"127.0.0.1:{exporter.port}"], "labels": {"sim_test": tag}}])
    )
    tmp.rename(target)  # atomic: Prometheus never reads half a file
    try:
        yield exporter, tag
    finally:
        target.unlink(missing_ok=True)
        exporter.stop()


def _wait_for_samples(base: str, tag: str, count: int, deadline_s: float = 60.0) -> None:
    selector = f'nexus_sim_demand_rpm{{sim_test="{tag}",service="nexus-crm"}}'
    began = time.monotonic()
    while time.monotonic() - began < deadline_s:
        seen = query(base, f"count_over_time({selector}[30s])")
        if seen and max(seen.values()) >= count:
            return
        time.sleep(1.0)
    pytest.fail(f"Prometheus did not scrape the exporter ({tag}) {count} times in {deadline_s} s")


def test_promql_rates_recover_simulated_demand_and_cpu(
    scraped: tuple[SimExporter, str], prometheus_url: str
) -> None:
    exporter, tag = scraped
    _wait_for_samples(prometheus_url, tag, count=8)
    sel = f'sim_test="{tag}"'
    demand = query(prometheus_url, f"avg_over_time(nexus_sim_demand_rpm{{{sel}}}[6s])")
    rpm = query(prometheus_url, f"sum by (service) (rate(http_requests_total{{{sel}}}[6s])) * 60")
    cpu = query(
        prometheus_url,
        "sum by (container_label_com_docker_swarm_service_name) "
        f"(rate(container_cpu_usage_seconds_total{{{sel}}}[6s]))",
        key="container_label_com_docker_swarm_service_name",
    )
    replicas = query(prometheus_url, f"nexus_sim_replicas{{{sel}}}")
    catalog: Catalog = exporter.simulator.catalog
    truth = ErpSimulator(catalog, seed=21).snapshot(exporter.now(), REPLICAS)
    assert set(rpm) == set(catalog.names)
    for profile in catalog:
        name = profile.name
        assert replicas[name] == REPLICAS[name]
        # Minute noise changes at most a few % between minutes: 10 % tolerance.
        assert rpm[name] == pytest.approx(demand[name], rel=0.10)
        expected_cpu = truth[name].cpu_usage * profile.cpu_limit * REPLICAS[name]
        assert cpu[name] == pytest.approx(expected_cpu, rel=0.15)
    # The latency histogram answers histogram_quantile like a real service's would.
    p95 = query(
        prometheus_url,
        "histogram_quantile(0.95, sum by (service, le) "
        f"(rate(http_request_duration_seconds_bucket{{{sel}}}[6s])))",
    )
    for name, snap in truth.items():
        mean_s = snap.response_time / 1000
        assert mean_s < p95[name] < 4 * mean_s
