"""Reaction time of the closed loop: injected surge → Swarm replicas updated, on the real stack.

The stack of the closed-loop test (apps/stack/loop.py): module services on the real Swarm,
the simulator's exporter following their running tasks, the real Prometheus scraping it, the
decision service (``create_app``) reading Prometheus, and the executor acting through
SwarmBackend — on a clock compressed ``SPEED`` times (one simulated minute = 2 wall seconds).

Per trial (a fresh stack each time): a ×40 demand surge is injected on CRM; measured are the
wall time until the service's ``GET /v1/decisions`` says scale up, until the Swarm spec has more
replicas, and until the new task runs. References in the same run:

- ``swarm_scale``: a bare ``SwarmBackend.scale`` of the same service (API call to task running):
  the floor of any executor;
- ``seed_trigger_5min``: the seed's reactive rule fires after 5 simulated minutes above the
  threshold at the earliest, then needs the same Swarm scale: 5 × 60 / SPEED + swarm_scale.

Reported: reaction (wall s and simulated minutes) and its ratio to both references.
Writes ``bench/results/loop.json``.
"""

from __future__ import annotations

import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "loop.json"
TRIALS = int(os.environ.get("BENCH_LOOP_TRIALS", "3"))


def trial(docker_host: str, prometheus_url: str, targets_dir: Path) -> dict[str, float]:
    import threading

    import docker

    from apps.stack.loop import (
        SPEED,
        CachedReplicas,
        CompressedClock,
        CompressedSource,
        ServiceThread,
        free_port,
        raw_query_catalog,
        write_target,
    )
    from apps.stack.swarm import module_services, unique_prefix
    from nexus_ml.alerts.notifier import LogNotifier
    from nexus_ml.catalog import load_catalog
    from nexus_ml.domain.decision import Action
    from nexus_ml.execute.audit import MemoryAudit
    from nexus_ml.execute.client import DecisionClient
    from nexus_ml.execute.guardrails import GuardrailConfig, Guardrails
    from nexus_ml.execute.loop import Executor, ExecutorConfig
    from nexus_ml.execute.swarm import SwarmBackend
    from nexus_ml.ingest.prometheus_source import PrometheusSource
    from nexus_ml.sim.exporter import SimExporter
    from nexus_ml.sim.incidents import DemandSurge
    from nexus_ml.sim.simulator import ErpSimulator
    from service.app import create_app
    from service.core.champions import NoModelStore
    from service.core.config import ServiceSettings

    crm = "nexus-crm"
    catalog = load_catalog()
    client = docker.DockerClient(base_url=docker_host, timeout=30)
    prefix, run = unique_prefix("exec-bench"), uuid.uuid4().hex[:8]
    clock = CompressedClock(datetime(2026, 11, 30, 3, tzinfo=UTC))
    token = uuid.uuid4().hex
    with module_services(client, prefix, list(catalog.names), replicas=1):
        backend = SwarmBackend(client, name_prefix=prefix)
        exporter = SimExporter(
            ErpSimulator(catalog, seed=11),
            replicas_of=CachedReplicas(backend, {m: 1 for m in catalog.names}),
            clock=clock,  # type: ignore[arg-type]
            tick_s=0.5,
        ).start()
        target = write_target(targets_dir, run, exporter.port)
        source = CompressedSource(
            PrometheusSource(prometheus_url, timeout_s=5, catalog=raw_query_catalog(run)),
            clock,
        )
        app = create_app(
            ServiceSettings(
                api_token=token,
                decision_cache_s=0.5,
                window_minutes=20,
                state_dir=Path(f"/tmp/exec-bench-{run}"),
            ),
            catalog=catalog,
            metric_source=source,
            model_store=NoModelStore(),
            clock=clock.now,
            poll_models=False,
        )
        service = ServiceThread(app, free_port())
        service.start()
        decisions = DecisionClient(service.url, token, timeout_s=5, retries=1)
        executor = Executor(
            DecisionClient(service.url, token, timeout_s=5, retries=1),
            backend,
            catalog,
            Guardrails(GuardrailConfig(interval_s=60, cooldown_s={Action.SCALE_UP: 30})),
            MemoryAudit(),
            LogNotifier(),
            config=ExecutorConfig(interval_s=60 / SPEED, action_timeout_s=20),
            clock=clock.now,
        )
        stop = threading.Event()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # warm-up: fresh data for every module
                batch = decisions.fetch()
                if batch.decisions and not any(d.stale_input for d in batch.decisions):
                    break
                time.sleep(0.5)
            runner = threading.Thread(target=executor.run, args=(stop,), daemon=True)
            runner.start()
            time.sleep(2)
            t0 = time.monotonic()
            sim0 = clock.now()
            exporter.inject(
                DemandSurge(module=crm, start=sim0, duration=timedelta(minutes=20), magnitude=40.0)
            )
            decided = spec = running = float("nan")
            while time.monotonic() - t0 < 60 and running != running:
                if decided != decided:
                    crm_decision = next(d for d in decisions.fetch().decisions if d.module == crm)
                    if crm_decision.action is Action.SCALE_UP:
                        decided = time.monotonic() - t0
                state = backend.services()[crm]
                if spec != spec and state.replicas > 1:
                    spec = time.monotonic() - t0
                if state.running > 1:
                    running = time.monotonic() - t0
                time.sleep(0.1)
            sim_minutes = (clock.now() - sim0).total_seconds() / 60 if running == running else 0
            stop.set()
            runner.join(15)
            # Reference: a bare scale of another module (API call to task running).
            began = time.monotonic()
            backend.scale("nexus-agendamento", 2, timeout_s=30)
            swarm_scale = time.monotonic() - began
        finally:
            stop.set()
            service.stop()
            exporter.stop()
            target.unlink(missing_ok=True)
    return {
        "decided_s": decided,
        "spec_updated_s": spec,
        "running_s": running,
        "reaction_sim_min": sim_minutes,
        "swarm_scale_s": swarm_scale,
        "seed_trigger_5min_s": 5 * 60 / SPEED + swarm_scale,
    }


def main() -> None:
    docker_host = os.environ["DOCKER_HOST"]
    prometheus_url = os.environ["NEXUS_PROMETHEUS_URL"]
    targets = Path(os.environ["NEXUS_TEST_PROM_TARGETS_DIR"])
    trials = [trial(docker_host, prometheus_url, targets) for _ in range(TRIALS)]

    def med(key: str) -> float:
        return float(statistics.median(t[key] for t in trials))

    from apps.stack.loop import SPEED

    summary = {
        "protocol": "bench_loop v1: surge x40 on CRM, compressed clock, real Swarm/Prometheus",
        "speed": SPEED,
        "trials": trials,
        "median": {k: med(k) for k in trials[0]},
    }
    m = summary["median"]
    summary["ratios"] = {
        "reaction_vs_seed_trigger_5min": m["running_s"] / m["seed_trigger_5min_s"],
        "reaction_vs_bare_swarm_scale": m["running_s"] / m["swarm_scale_s"],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=2))
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"closed-loop reaction, median of {TRIALS} (1 sim min = {60 / SPEED:g} s)")
    for col in ("measure", "wall s", "note"):
        table.add_column(col)
    rows = [
        ("surge → service says scale_up", m["decided_s"], ""),
        ("surge → Swarm spec replicas updated", m["spec_updated_s"], ""),
        ("surge → new task running", m["running_s"], f"{m['reaction_sim_min']:.1f} sim min"),
        ("ref: bare SwarmBackend.scale", m["swarm_scale_s"], "floor"),
        ("ref: seed 5-min trigger + scale", m["seed_trigger_5min_s"], "earliest possible"),
    ]
    for name, value, note in rows:
        table.add_row(name, f"{value:.2f}", note)
    Console().print(table)
    Console().print(summary["ratios"])


if __name__ == "__main__":
    main()
