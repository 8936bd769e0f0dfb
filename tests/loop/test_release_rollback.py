"""A bad release on the real Swarm is rolled back by itself, at each of the three scopes.

The closed loop of ``harness.py`` (real Swarm services, the simulator's exporter scraped by the
real Prometheus, the real decision service over HTTP, the executor acting through
SwarmBackend, auditing to PostgreSQL) on the compressed clock, with the production bars. A
release really updates two or more services to a new image; the exporter's metrics follow what
Swarm runs (a module running its bad release degrades, and so do the modules the release
breaks). Nothing is scripted past that: the executor reports each service's release in its
observation, the service's post-deploy check finds the regression and its spread, and the
executor rolls the scope back in order, verifying each service, then (FULL_SYSTEM) the
database through the migration coordinator, and validates.

Times: Swarm's are wall-clock, the loop's simulated; the executor sees Swarm through
:class:`CompressedSwarm`, which maps Swarm's times onto the simulated clock (as
``CompressedSource`` does for Prometheus). Stages on the executor's clock (detect) are
simulated seconds; the others are wall seconds.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from docker.types import UpdateConfig

from apps.stack.loop import CompressedClock
from nexus_ml.catalog import load_catalog
from nexus_ml.domain.decision import Action
from nexus_ml.domain.rollback import RollbackScope
from nexus_ml.execute.backend import ServiceState
from nexus_ml.execute.database import HttpSmoke, MigrationRollback
from nexus_ml.execute.guardrails import GuardrailConfig
from nexus_ml.execute.rollback_run import RollbackRun, RollbackSetup
from nexus_ml.execute.swarm import SwarmBackend, engine_time
from nexus_ml.execute.swarm_release import rollout_started_at
from nexus_ml.migrate import commands
from nexus_ml.migrate.dbmap import load_map
from nexus_ml.migrate.pg import SessionSettings
from nexus_ml.migrate.runner import Coordinator
from nexus_ml.sim.incidents import BadRelease
from tests.migrate.conftest import EXAMPLES, SEED_DATA, run_sql, snapshot
from tests.support.pg import fresh_database

from .harness import AG, CRM, LOOP_COOLDOWNS, UM, Loop, closed_loop

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GOOD, NEW = "nexus-module:1", "nexus-module:2"
FAST = SessionSettings(lock_wait_s=5.0)
#: A release's modules count together when released within this (simulated) time.
RELEASE_WINDOW_S = 300.0


class CompressedSwarm:
    """The Swarm backend as the executor sees it on the compressed clock."""

    def __init__(self, inner: SwarmBackend, clock: CompressedClock) -> None:
        self.inner = inner
        self.clock = clock

    def _sim(self, state: ServiceState) -> ServiceState:
        def to_sim(at):  # type: ignore[no-untyped-def]
            return None if at is None else self.clock.to_sim(at)

        return replace(
            state, updated_at=to_sim(state.updated_at), released_at=to_sim(state.released_at)
        )

    def services(self) -> dict[str, ServiceState]:
        return {m: self._sim(s) for m, s in self.inner.services().items()}

    def scale(self, module: str, replicas: int, *, timeout_s: float = 60.0) -> ServiceState:
        return self._sim(self.inner.scale(module, replicas, timeout_s=timeout_s))

    def restart(self, module: str, *, timeout_s: float = 60.0) -> ServiceState:
        return self._sim(self.inner.restart(module, timeout_s=timeout_s))

    def rollback(self, module: str, *, timeout_s: float = 60.0) -> ServiceState:
        return self._sim(self.inner.rollback(module, timeout_s=timeout_s))


@contextmanager
def metrics_follow_releases(
    loop: Loop, bad: set[str], breaks: dict[str, set[str]]
) -> Iterator[None]:
    """While a module of ``bad`` runs the new image, it (and the modules in ``breaks`` of it)
    serve slower and with more errors; once Swarm runs the old image again, they recover."""
    stop = threading.Event()

    def watch() -> None:
        current: frozenset[str] = frozenset()
        while not stop.wait(0.2):
            with suppress(Exception):  # an Engine busy with an update: look again
                images = {m: s.image for m, s in loop.backend.services().items()}
                failing = {m for m in bad if images.get(m) == NEW}
                hit = frozenset(failing | {x for m in failing for x in breaks.get(m, set())})
                if hit == current:
                    continue
                loop.exporter.clear()
                for module in sorted(hit):
                    loop.exporter.inject(
                        BadRelease(
                            module=module,
                            start=loop.clock.now(),
                            duration=timedelta(hours=3),
                            magnitude=2.0,
                        )
                    )
                current = hit

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


@contextmanager
def running_loop(
    docker_host: str,
    prometheus_url: str,
    prometheus_targets_dir: Path,
    pg_dsn: str,
) -> Iterator[Loop]:
    from service.core.champions import NoModelStore

    with closed_loop(
        catalog=load_catalog(),
        docker_host=docker_host,
        prometheus_url=prometheus_url,
        prometheus_targets_dir=prometheus_targets_dir,
        pg_dsn=pg_dsn,
        model_store=NoModelStore(),
        guardrails=GuardrailConfig(
            interval_s=60, cooldown_s=LOOP_COOLDOWNS, max_changes_per_hour=60
        ),  # the production confidence bars
        area="exec_rollback",
        backend_view=CompressedSwarm,
    ) as loop:
        loop.executor.rollback_setup = RollbackSetup(release_window_s=RELEASE_WINDOW_S)
        yield loop


def wait_for_history(loop: Loop) -> None:
    """Fresh decisions, then 6 more minutes of them: the post-deploy check compares the
    release with at least 5 minutes before it."""
    fresh = loop.wait_for(
        "fresh decisions",
        lambda: not loop.executor.source.fetch().decisions[0].stale_input,
        timeout_s=60,
    )
    start = loop.clock.now()
    history = loop.wait_for(
        "6 minutes of history",
        lambda: loop.clock.now() - start > timedelta(minutes=6),
        timeout_s=30,
    )
    print(f"\nwall s: fresh decisions {fresh:.1f}, history {history:.1f}")


#: How a CD job rolls a release out: one task at a time, the new one started before the old
#: one stops (no outage; Swarm's API default replaces every task at once, old ones first).
ROLLING = UpdateConfig(parallelism=1, order="start-first", monitor=200_000_000)


def deploy(loop: Loop, modules: list[str]) -> None:
    """The release: ``docker service update --image`` of each module, as a CD job does."""
    client = loop.backend._client
    for module in modules:
        client.services.get(loop.backend._prefix + module).update(image=NEW, update_config=ROLLING)


def rolled_back(loop: Loop, since, timeout_s: float = 90) -> RollbackRun:  # type: ignore[no-untyped-def]
    waited = loop.wait_for(
        "an automatic rollback",
        lambda: bool(loop.taken(since, Action.ROLLBACK)),
        timeout_s=timeout_s,
    )
    run = loop.executor.rollback_runs[-1]
    print(f"wall s: release to rollback done {waited:.1f}\n{run.table()}\n{run.summary()}")
    return run


def assert_in_order(loop: Loop, modules: list[str]) -> None:
    """Each module's restored task ran before the next module's rollback began."""
    api, prefix = loop.backend._client.api, loop.backend._prefix
    for first, second in itertools.pairwise(modules):
        tasks = api.tasks(filters={"service": prefix + first, "desired-state": "running"})
        ran = max(engine_time(t["Status"]["Timestamp"]) for t in tasks)
        began = rollout_started_at(api.inspect_service(prefix + second))
        assert ran <= began, (first, ran, second, began)


def images(loop: Loop) -> dict[str, str]:
    return {m: s.image for m, s in loop.backend.services().items()}


@pytest.fixture
def services(docker_host, prometheus_url, prometheus_targets_dir, pg_dsn):  # type: ignore[no-untyped-def]
    return docker_host, prometheus_url, prometheus_targets_dir, pg_dsn


ANNOUNCED = "failed_release"  # the problem key of a rollback's alert


def test_module_only_rolls_back_the_failed_module_alone(services) -> None:  # type: ignore[no-untyped-def]
    with running_loop(*services) as loop:
        t0 = loop.clock.now()
        # CRM and User Management released together; only CRM's release is bad
        with metrics_follow_releases(loop, bad={CRM}, breaks={}):
            wait_for_history(loop)
            deploy(loop, [UM, CRM])
            run = rolled_back(loop, t0)
        assert run.scope is RollbackScope.MODULE_ONLY and run.rolled_back == [CRM]
        assert images(loop) == {UM: NEW, CRM: GOOD, AG: GOOD}
        taken = loop.taken(t0, Action.ROLLBACK)[0]
        assert taken.module == CRM and taken.data["rollback"]["stages"]["execute"]["within"]
        assert run.stage("execute").within and run.stage("validate").within
        # the operators were told before Swarm was touched (the seed's notify, then execute)
        trail = [e for e in loop.audit.since(t0) if e.event in ("alert_sent", "rollback_step")]
        told = [i for i, e in enumerate(trail) if e.event == "alert_sent" and e.reason == ANNOUNCED]
        steps = [i for i, e in enumerate(trail) if e.event == "rollback_step"]
        assert told and steps and told[0] < steps[0], trail
        assert trail[told[0]].detail == "Rollback em andamento (MODULE_ONLY), nesta ordem: " + CRM
        assert any("Rollback em andamento" in m.text for m in loop.telegram.messages)


def test_dependency_chain_rolls_back_the_module_then_its_users(services) -> None:  # type: ignore[no-untyped-def]
    with running_loop(*services) as loop:
        t0 = loop.clock.now()
        # CRM's new API and Agendamento's client of it: CRM's release also breaks Agendamento
        with metrics_follow_releases(loop, bad={CRM, AG}, breaks={CRM: {AG}}):
            wait_for_history(loop)
            deploy(loop, [CRM, AG])
            run = rolled_back(loop, t0)
        assert run.scope is RollbackScope.DEPENDENCY_CHAIN
        assert run.rolled_back == [CRM, AG]  # the module, then the module that uses it
        assert [e.detail for e in loop.audit.since(t0) if e.event == "rollback_step"] == [CRM, AG]
        assert_in_order(loop, [CRM, AG])
        assert images(loop) == {UM: GOOD, CRM: GOOD, AG: GOOD}
        # Agendamento's own rollback decision, if any, found it rolled back already
        assert len([e for e in loop.taken(t0, Action.ROLLBACK)]) == 1


def base_only(root: Path) -> Path:
    """A migrations tree with only the three base schemas."""
    only = root / "base_only"
    for module in ("user_management", "crm", "agendamento"):
        src = next((EXAMPLES / module).glob("0001_*.sql"))
        (only / module).mkdir(parents=True, exist_ok=True)
        (only / module / src.name).write_text(src.read_text())
    return only


def test_full_system_rolls_back_every_released_module_and_the_database(
    services,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    docker_host, prometheus_url, targets, pg_dsn = services
    graph, dbmap = commands.load_graph(EXAMPLES), load_map()
    with fresh_database(pg_dsn, "exec_rollback_erp") as erp:
        Coordinator(erp, dbmap, FAST).apply(commands.load_graph(base_only(tmp_path)), release="v1")
        run_sql(erp, SEED_DATA)
        before = snapshot(erp)
        with running_loop(docker_host, prometheus_url, targets, pg_dsn) as loop:
            database = MigrationRollback(
                erp, graph, dbmap, settings=FAST, to_db_time=loop.clock.to_wall
            )
            smoke = HttpSmoke([f"{loop.service.url}/healthz", loop.exporter.url])
            loop.executor.rollback_setup = RollbackSetup(
                database=database, smoke=smoke, release_window_s=RELEASE_WINDOW_S
            )
            t0 = loop.clock.now()
            # User Management's release (with its module migrations) breaks both its users
            with metrics_follow_releases(loop, bad={UM, CRM}, breaks={UM: {CRM, AG}}):
                wait_for_history(loop)
                forward = commands.all_modules(erp, graph, dbmap, release="v2", settings=FAST)
                assert forward.production is not None and forward.production.applied
                assert snapshot(erp) != before
                deploy(loop, [UM, CRM])
                run = rolled_back(loop, t0)
            assert run.scope is RollbackScope.FULL_SYSTEM
            assert (run.rolled_back, run.unchanged) == ([UM, CRM], [AG])
            assert_in_order(loop, [UM, CRM])
            assert images(loop) == {UM: GOOD, CRM: GOOD, AG: GOOD}
            assert "undone to v1" in run.database
            assert snapshot(erp) == before  # schema and data as before the release
            assert any("healthz: HTTP 200" in line for line in run.validation)
            assert any("migration history matches" in line for line in run.validation)
            assert all(s.within is not None for s in run.stages if s.stage != "detect")
