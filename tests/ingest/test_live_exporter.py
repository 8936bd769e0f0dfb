"""Done-when (b): the live simulator exporter, scraped by a real Prometheus through our recording
rules, reads back through PrometheusSource with the values the simulator is producing.

The test runs its own Prometheus (1 s scrapes of the exporter, deploy/prometheus's recording
rules) so that its `nexus:*` aggregates never mix with other tests' targets on the shared server.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.ingest import LatestWindow, latest_windows
from nexus_ml.ingest.prometheus_source import PrometheusSource
from nexus_ml.ingest.promserver import LocalPrometheus
from nexus_ml.sim import ErpSimulator
from nexus_ml.sim.exporter import SimClock, SimExporter, fixed_replicas
from tests.ingest.conftest import MODULES, need_binary

pytestmark = pytest.mark.integration

RULES = Path(__file__).parents[2] / "deploy/prometheus/rules/nexus-recording.yml"
REPLICAS = {"nexus-user-management": 3, "nexus-agendamento": 1, "nexus-crm": 2}
# Modules without dependencies expose no inter-container call histogram, hence no latency.
NO_LINKS = {m.name for m in load_catalog() if not m.depends_on}
SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def exporter() -> Iterator[SimExporter]:
    # Simulated time starts 2 s into a minute: the whole test stays inside one simulated minute,
    # where the simulator's rates are constant, so rate() over the scrapes recovers them exactly.
    clock = SimClock(datetime(2026, 11, 3, 14, 0, 2, tzinfo=UTC))
    sim = ErpSimulator(load_catalog(), seed=3)
    with SimExporter(sim, replicas_of=fixed_replicas(REPLICAS), clock=clock, tick_s=0.2) as exp:
        yield exp


def _fast_rules(directory: Path) -> Path:
    """The deployed recording rules with 4 s rate windows instead of 1 m and 5 m.

    A rate() over a window that is still filling is divided by the whole window, so with the
    production windows the first minute reads low; the test scrapes every second and cannot
    wait a minute. Everything else in the rules is exactly what is deployed.
    """
    text = RULES.read_text(encoding="utf-8")
    assert "[1m]" in text and "[5m]" in text
    path = directory / "nexus-recording-fast.yml"
    path.write_text(text.replace("[1m]", "[4s]").replace("[5m]", "[4s]"), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def target_port(exporter: SimExporter) -> int:
    return exporter.port  # taken while it runs: a stopped exporter forgets its port


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory, target_port: int) -> Iterator[str]:
    need_binary("prometheus")
    tsdb = tmp_path_factory.mktemp("live")
    server = LocalPrometheus(
        tsdb,
        rule_files=(_fast_rules(tsdb),),
        scrape_targets=(f"127.0.0.1:{target_port}",),
        scrape_interval="1s",
    )
    with server:
        yield server.url


def _complete(windows: dict[str, LatestWindow]) -> bool:
    """Every field has a latest value, and rates have been recorded long enough (6 s) for
    their 4 s windows to be full."""
    for module, w in windows.items():
        if np.isfinite(w.frame["cpu_usage"].to_numpy(dtype=float)).sum() < 6:
            return False
        last = w.frame.iloc[-1] if len(w.frame) else None
        fields = [f for f in METRIC_FIELDS if not (f == "network_latency" and module in NO_LINKS)]
        if last is None or w.stale or not np.isfinite(last[fields].to_numpy(dtype=float)).all():
            return False
    return True


def test_latest_values_match_the_simulator(prom: str, exporter: SimExporter) -> None:
    source = PrometheusSource(prom, timeout_s=5)
    deadline = time.monotonic() + 40
    while True:
        windows = latest_windows(
            source, list(MODULES), window=10 * SECOND, step=SECOND, max_age=3 * SECOND
        )
        if _complete(windows) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert _complete(windows), {m: w.frame.tail(1).to_dict("records") for m, w in windows.items()}
    truth = exporter.advance()
    for module in MODULES:
        got = windows[module].frame.iloc[-1]
        want = truth[module]
        assert want.replicas == REPLICAS[module]
        assert got["replicas"] == REPLICAS[module]  # nexus:replicas, one per cAdvisor container
        for f in METRIC_FIELDS:
            if f == "network_latency" and module in NO_LINKS:
                assert np.isnan(got[f])
                continue
            expected = getattr(want, f)
            # The simulator's rates are constant within a simulated minute, so rate() recovers
            # them; 5 % covers the few ms between a scrape's timestamp and the counter reading.
            # response_time is the histogram's sum/count: the mean, as simulated (queries.yaml).
            assert got[f] == pytest.approx(expected, rel=0.05, abs=1e-4), f"{module}.{f}"


def test_stopped_target_turns_stale(prom: str, exporter: SimExporter) -> None:
    source = PrometheusSource(prom, timeout_s=5)
    fresh = latest_windows(
        source, list(MODULES), window=10 * SECOND, step=SECOND, max_age=3 * SECOND
    )
    assert not any(w.stale for w in fresh.values())
    exporter.stop()
    # Failed scrapes write staleness markers: gauges vanish at once, rates once their 4 s window
    # has no two samples left; then the newest value ages past max_age.
    deadline = time.monotonic() + 20
    while True:
        stale = latest_windows(
            source, list(MODULES), window=10 * SECOND, step=SECOND, max_age=3 * SECOND
        )
        if all(w.stale for w in stale.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert all(w.stale for w in stale.values())
    assert all(w.age is not None and w.age > 3 * SECOND for w in stale.values())


def test_restarted_exporter_counts_counter_resets(
    prom: str, exporter: SimExporter, target_port: int
) -> None:
    # runs after the stop above: a new exporter on the same port starts its counters from zero,
    # as a restarted container does
    restarted = SimExporter(
        exporter.simulator,
        replicas_of=fixed_replicas(REPLICAS),
        clock=exporter.clock,
        port=target_port,
        tick_s=0.2,
    )
    source = PrometheusSource(prom, timeout_s=5)
    with restarted:
        deadline = time.monotonic() + 20
        while True:
            now = datetime.now(UTC)
            fetch = source.fetch(list(MODULES), now - 60 * SECOND, now, SECOND)
            resets = fetch.quality.counter_resets
            if all(resets[m] > 0 for m in MODULES) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    # every replica's CPU counter and both HTTP counters (200, 500) dropped back once
    assert resets == {m: REPLICAS[m] + 2 for m in MODULES}
    assert any("counter reset(s)" in issue for issue in fetch.quality.issues)
