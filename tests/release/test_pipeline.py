"""The release pipeline's step logic on in-memory seams (no Swarm, database or network)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.deploy import DeployOptions
from nexus_ml.errors import NotFoundError
from nexus_ml.migrate.errors import StepFailed
from nexus_ml.release.checks import parse_check
from nexus_ml.release.measure import LoadSettings
from nexus_ml.release.pipeline import STEPS, ReleaseRequest, Seams, run_release
from nexus_ml.release.store import FileReleaseStore
from nexus_ml.release.verdict import StepRecord
from tests.release.fakes import FakeCluster, FakeDatabase, FakeErp, FakeProxy, spec_of

CANDIDATE = "registry/nexus-module@sha256:" + "c" * 64
PROD_IMAGE = "registry/nexus-module@sha256:" + "a" * 64
MODULES = ("nexus-user-management", "nexus-agendamento", "nexus-crm")


class World:
    def __init__(self, tmp_path: Path, **cluster: object) -> None:
        self.cluster = FakeCluster(**cluster)  # type: ignore[arg-type]
        for m in MODULES:
            self.cluster.services[f"nexus_{m}"] = spec_of(
                f"nexus_{m}", PROD_IMAGE, "completed", "t0"
            )
        self.proxy = FakeProxy()
        self.database = FakeDatabase()
        self.http = FakeErp("staging")
        self.store = FileReleaseStore(tmp_path / "releases")
        self.events: list[tuple[str, StepRecord | None]] = []
        self.slept = 0.0
        self.t = 0.0

    def seams(self) -> Seams:
        def sleep(s: float) -> None:
            self.slept += s
            self.t += s

        def tick() -> float:
            self.t += 0.01
            return self.t

        return Seams(
            cluster=self.cluster,
            proxy=self.proxy,
            database=self.database,
            http=self.http,
            store=self.store,
            sleep=sleep,
            monotonic=tick,
            now=lambda: datetime(2026, 12, 4, 12, tzinfo=UTC),
        )

    def run(self, **changes: object):  # type: ignore[no-untyped-def]
        fields: dict[str, object] = {
            "release_id": "crm-2",
            "module": "crm",
            "image": CANDIDATE,
            "catalog": load_catalog(),
            "production_stack": "nexus",
            "staging": DeployOptions(
                stack_name="staging", network="host", nginx_listen="127.0.0.1:18080"
            ),
            "port_offset": 10000,
            "checks": (parse_check("http-contract"),),
            "load": LoadSettings(windows=8, requests_per_window=10),
            "ready_timeout_s": 5.0,
            "promote_timeout_s": 30.0,
        }
        fields.update(changes)
        request = ReleaseRequest(**fields)  # type: ignore[arg-type]
        return run_release(request, self.seams(), lambda n, r: self.events.append((n, r)))

    def production_image(self) -> str:
        spec = self.cluster.services["nexus_nexus-crm"]
        return str(spec["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"])

    def staging_torn_down(self) -> bool:
        return (
            not any(s.startswith("staging_") for s in self.cluster.services)
            and not self.proxy.running
            and self.database.copies == self.database.dropped
        )


def statuses(verdict) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {s.name: s.status for s in verdict.steps}


def test_a_good_candidate_passes_every_step_and_is_promoted(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.database.pending = ["crm:0004"]
    verdict = world.run()
    assert verdict.verdict == "Successful" and verdict.exit_code == 0, verdict.reason
    assert statuses(verdict) == {**{s: "passed" for s in STEPS}, "teardown": "passed"}
    assert world.production_image() == CANDIDATE
    assert ("update", "nexus_nexus-crm", CANDIDATE) in world.cluster.calls
    # staging deployed with production's images, the candidate and the baseline beside it
    assert world.cluster.calls[0] == ("deploy", "staging")
    assert "location /crm-baseline/" in (world.proxy.config or "")
    services = world.cluster.stacks["staging"]["services"]
    assert {s["environment"]["NEXUS_DATABASE"] for s in services.values()} == {"nexus_copy0"}
    assert world.staging_torn_down()
    # the migrations rehearsed on the copy are the only ones production gets, after staging
    assert world.database.runs == [
        ("copy0", "staging-crm-2", None),
        (None, "crm-2", ("crm:0004",)),
    ]
    # every edge into CRM measured for the judge, the verdict stored with its steps
    names = {m.name for m in verdict.metrics}
    assert "call_latency_ms:nexus-agendamento->nexus-crm" in names
    assert world.store.get("crm-2") == verdict
    assert [n for n, r in world.events if r is None] == list(STEPS)


def test_staging_goes_down_before_production_changes(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.run()
    kinds = [c[0] for c in world.cluster.calls]
    assert kinds == ["deploy", "remove", "update"]


def test_a_failing_migration_blocks_before_any_production_change(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.database.fail = StepFailed(
        module="crm",
        migration="crm:0004",
        phase="integrity check",
        statement="constraints valid",
        cause="constraint x is NOT VALID",
        location="",
    )
    before = {k: dict(v) for k, v in world.cluster.services.items()}
    verdict = world.run()
    assert verdict.verdict == "Failed" and verdict.exit_code == 1
    assert verdict.reason.startswith("blocked at migrations: migration failed in staging")
    assert statuses(verdict)["migrations"] == "failed"
    for later in ("compatibility", "cross-module", "flows", "judge", "promote"):
        assert statuses(verdict)[later] == "skipped"
    assert world.cluster.services == before
    assert [r[0] for r in world.database.runs] == ["copy0"]  # production never migrated
    assert world.staging_torn_down()


def test_a_candidate_whose_tasks_fail_is_blocked_at_staging(tmp_path: Path) -> None:
    world = World(
        tmp_path, failing={"staging_nexus-crm": "task: non-zero exit (137): unhealthy container"}
    )
    verdict = world.run()
    assert verdict.verdict == "Failed"
    staging = next(s for s in verdict.steps if s.name == "staging")
    assert staging.status == "failed" and "unhealthy container" in staging.detail
    assert world.production_image() == PROD_IMAGE
    assert world.staging_torn_down()


def test_a_candidate_that_never_gets_ready_is_blocked_after_the_timeout(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.http.status["nexus-crm"] = 503
    verdict = world.run(ready_timeout_s=3.0)
    assert verdict.verdict == "Failed"
    assert "not ready in staging within 3 s" in verdict.reason
    assert world.slept >= 3.0


def test_a_broken_contract_is_blocked_at_compatibility(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.http.info_module["nexus-crm"] = "nexus-crm-legacy"
    verdict = world.run()
    assert verdict.verdict == "Failed"
    step = next(s for s in verdict.steps if s.name == "compatibility")
    assert step.status == "failed"
    assert step.findings == ["http-contract: GET /api/info: module is 'nexus-crm-legacy'"]
    assert world.production_image() == PROD_IMAGE


def test_a_slower_candidate_is_blocked_by_the_judge(tmp_path: Path) -> None:
    world = World(tmp_path)
    world.http.latency_ms["nexus-crm"] = 9.0  # the baseline answers in ~2-3 ms
    verdict = world.run()
    assert verdict.verdict == "Failed" and "blocked at judge" in verdict.reason
    latency = next(m for m in verdict.metrics if m.name == "latency_ms")
    assert latency.status == "fail" and latency.p_value is not None and latency.p_value < 0.05
    assert statuses(verdict)["promote"] == "skipped"
    assert world.production_image() == PROD_IMAGE


def test_a_swarm_rollback_of_the_promotion_is_a_failed_release(tmp_path: Path) -> None:
    world = World(tmp_path, outcome="rollback_completed")
    verdict = world.run()
    assert verdict.verdict == "Failed" and verdict.exit_code == 1
    assert "Swarm did not keep the candidate" in verdict.reason
    assert statuses(verdict)["promote"] == "failed"
    assert world.production_image() == PROD_IMAGE


def test_no_promote_stops_after_the_judge(tmp_path: Path) -> None:
    world = World(tmp_path)
    verdict = world.run(promote=False)
    assert verdict.verdict == "Successful" and "not promoted" in verdict.reason
    assert statuses(verdict)["promote"] == "skipped"
    assert not any(c[0] == "update" for c in world.cluster.calls)


def test_a_step_that_cannot_run_is_inconclusive_and_still_tears_down(tmp_path: Path) -> None:
    world = World(tmp_path, deploy_error="docker stack deploy failed (1): no space left")
    verdict = world.run()
    assert verdict.verdict == "Inconclusive" and verdict.exit_code == 2
    assert verdict.reason.startswith("step staging could not run: docker stack deploy failed")
    assert statuses(verdict)["staging"] == "error"
    assert world.database.copies == world.database.dropped == ["copy0"]


def test_production_without_the_module_is_reported(tmp_path: Path) -> None:
    world = World(tmp_path)
    del world.cluster.services["nexus_nexus-agendamento"]
    verdict = world.run()
    assert verdict.verdict == "Inconclusive"
    assert "production runs no image for nexus-agendamento" in verdict.reason


def test_an_unknown_module_is_bad_input_before_anything_runs(tmp_path: Path) -> None:
    world = World(tmp_path)
    with pytest.raises(NotFoundError, match="unknown module 'finance'"):
        world.run(module="finance")
    assert world.cluster.calls == [] and world.database.copies == []


def test_a_bug_in_a_step_is_recorded_and_raised_after_teardown(tmp_path: Path) -> None:
    world = World(tmp_path)

    def broken(*_args: object, **_kwargs: object) -> list[str]:
        raise KeyError("oops")

    world.database.migrate = broken  # type: ignore[method-assign]
    with pytest.raises(KeyError):
        world.run()
    assert world.staging_torn_down()
    migrations = next(r for n, r in world.events if n == "migrations" and r is not None)
    assert migrations.status == "error" and "KeyError" in migrations.detail


def test_the_pipelines_verdict_is_served_with_its_steps(tmp_path: Path) -> None:
    from tests.release.test_api import make_client
    from tests.service.fakes import AUTH

    world = World(tmp_path)
    world.store = FileReleaseStore(tmp_path / "releases")  # where the service reads them
    verdict = world.run()
    with make_client(tmp_path) as client:
        served = client.get("/v1/releases/crm-2", headers=AUTH)
    assert served.status_code == 200
    body = served.json()
    # what Argo Rollouts' web provider reads, and the pipeline's own report
    assert body["verdict"] == "Successful" and body["module"] == "crm"
    assert [s["name"] for s in body["steps"]] == [s.name for s in verdict.steps]
    assert body["steps"][-1] == {
        "name": "promote",
        "status": "passed",
        "seconds": verdict.steps[-1].seconds,
        "detail": verdict.steps[-1].detail,
        "findings": verdict.steps[-1].findings,
    }
