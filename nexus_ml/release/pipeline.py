"""``nexus-ml release MODULE --image REF``: the release pipeline, step by step.

1. ``database`` — a copy of production's database for staging.
2. ``staging`` — the mirrored staging stack (every module at production's image, the module
   under test at the candidate, production's version of it beside it as the baseline) and its
   nginx, until every service runs and answers its health path through nginx.
3. ``migrations`` — the candidate's migrations on the copy, through the coordinator.
4. ``compatibility`` — the check registry (:mod:`~nexus_ml.release.checks`).
5. ``cross-module`` — every dependency edge of the catalog through nginx.
6. ``flows`` — the ERP's business flows through nginx.
7. ``judge`` — baseline and candidate under the same load, then the judge.
8. ``promote`` — production's migrations (only those rehearsed), then a rolling update with
   rollback on failure, watched until Swarm settles; a Swarm rollback is a failed release.

A step that finds a fault *blocks* the release (verdict Failed) and nothing after it runs:
production is changed only by ``promote``. A step that cannot run (the cluster refuses, the
database is unreachable) ends the run Inconclusive. Staging is torn down whatever happened,
and the verdict — with every step, its time and its findings — is stored under the release id.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from nexus_ml.catalog import Catalog
from nexus_ml.deploy.options import DeployOptions
from nexus_ml.errors import NexusError
from nexus_ml.logs import get_logger
from nexus_ml.migrate.errors import StepFailed
from nexus_ml.release.checks import Check, run_checks
from nexus_ml.release.cluster import Cluster, Proxy, service_image
from nexus_ml.release.config import DEFAULT_CONFIG, JudgeConfig
from nexus_ml.release.database import Database
from nexus_ml.release.flows import check_edges, flows_run, run_flows
from nexus_ml.release.http import Http
from nexus_ml.release.judge import judge
from nexus_ml.release.measure import LoadSettings, measure
from nexus_ml.release.promote import promote
from nexus_ml.release.staging import StagingPlan, plan_staging
from nexus_ml.release.store import ReleaseStore
from nexus_ml.release.verdict import ReleaseStatus, StepRecord, Verdict

log = get_logger(__name__)

STEPS = (
    "database",
    "staging",
    "migrations",
    "compatibility",
    "cross-module",
    "flows",
    "judge",
    "promote",
)
#: Called when a step starts (``record`` None) and when it ends; the CLI draws the progress.
Listener = Callable[[str, StepRecord | None], None]


class Blocked(Exception):
    """The candidate failed a step: the release stops here (Failed)."""

    def __init__(self, detail: str, findings: list[str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.findings = findings or []


@dataclass(frozen=True)
class ReleaseRequest:
    """What to release and how (everything but the side effects).

    Attributes
    ----------
    release_id
        The verdict's id (served at ``/v1/releases/{id}``).
    module, image
        The module under test and the candidate's image reference.
    catalog
        The production catalog.
    production_stack
        The production stack's name (services ``<stack>_<module>``).
    staging
        Staging's rendering options (its own stack name, nginx listen address).
    port_offset
        Staging ports are production's plus this.
    """

    release_id: str
    module: str
    image: str
    catalog: Catalog
    production_stack: str
    staging: DeployOptions
    port_offset: int
    checks: tuple[Check, ...] = ()
    load: LoadSettings = field(default_factory=LoadSettings)
    judge_config: JudgeConfig = DEFAULT_CONFIG
    promote: bool = True
    ready_timeout_s: float = 120.0
    promote_timeout_s: float = 600.0
    poll_s: float = 0.5


@dataclass
class Seams:
    """The pipeline's side effects, injectable."""

    cluster: Cluster
    proxy: Proxy
    database: Database
    http: Http
    store: ReleaseStore | None = None
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@dataclass
class _Run:
    request: ReleaseRequest
    seams: Seams
    listener: Listener
    steps: list[StepRecord] = field(default_factory=list)
    plan: StagingPlan | None = None
    staging_dsn: str = ""
    rehearsed: list[str] = field(default_factory=list)
    verdict: Verdict | None = None

    @contextmanager
    def step(self, name: str) -> Iterator[list[str]]:
        """Time a step; ``Blocked`` fails it, a :class:`NexusError` makes it an error."""
        self.listener(name, None)
        findings: list[str] = []
        start = self.seams.monotonic()
        status, detail = "passed", ""
        try:
            yield findings
        except Blocked as exc:
            status, detail = "failed", exc.detail
            findings += exc.findings
            raise
        except NexusError as exc:
            status, detail = "error", str(exc)
            raise
        except BaseException as exc:  # a bug or Ctrl-C: recorded, then raised as it is
            status, detail = "error", f"{type(exc).__name__}: {exc}"
            raise
        finally:
            record = StepRecord(
                name=name,
                status=status,
                seconds=round(self.seams.monotonic() - start, 3),
                detail=detail or (findings[0] if findings else ""),
                findings=findings,
            )
            self.steps.append(record)
            self.listener(name, record)
            log.info("release.step_done", step=name, status=status, seconds=record.seconds)


def _production_images(request: ReleaseRequest, cluster: Cluster) -> dict[str, str]:
    images = {}
    for module in request.catalog:
        spec = cluster.service_spec(f"{request.production_stack}_{module.name}")
        if spec is not None:
            images[module.name] = service_image(spec)
    return images


def _quietly(action: Callable[..., object], *args: object) -> None:
    # teardown must not hide the verdict: a failure to clean up is logged, not raised
    try:
        action(*args)
    except NexusError as exc:
        log.warning("release.teardown_failed", action=action.__name__, error=str(exc))


def _teardown(run: _Run, stack: ExitStack) -> None:
    start = run.seams.monotonic()
    stack.close()
    seconds = round(run.seams.monotonic() - start, 3)
    run.steps.append(StepRecord(name="teardown", status="passed", seconds=seconds))
    log.info("release.step_done", step="teardown", status="passed", seconds=seconds)


def _wait_ready(run: _Run, plan: StagingPlan, findings: list[str]) -> None:
    request, seams = run.request, run.seams
    deadline = seams.monotonic() + request.ready_timeout_s
    pending = list(plan.catalog.names)
    while pending:
        for name in list(pending):
            tasks = seams.cluster.tasks(plan.service(name))
            if tasks.failures and name == plan.module:
                raise Blocked(
                    f"the candidate's tasks fail in staging: {tasks.failures[0]}",
                    list(dict.fromkeys(tasks.failures)),
                )
            if tasks.running < plan.catalog.get(name).min_replicas:
                continue
            health = plan.catalog.get(name).health.path
            answer = seams.http.request("GET", plan.proxy_url + plan.path(name) + health[1:])
            if answer.status == 200:
                pending.remove(name)
        if not pending:
            break
        if seams.monotonic() >= deadline:
            if plan.module in pending:
                raise Blocked(
                    f"the candidate was not ready in staging within {request.ready_timeout_s:g} s"
                )
            raise NexusError(
                f"staging services not ready within {request.ready_timeout_s:g} s: "
                + ", ".join(pending)
            )
        seams.sleep(request.poll_s)
    findings.append(f"{len(plan.catalog.names)} staging services ready behind nginx")


def _staging(run: _Run, stack: ExitStack) -> None:
    request, seams = run.request, run.seams
    with run.step("database") as found:
        run.staging_dsn = stack.enter_context(seams.database.staging_copy())
        found.append(f"copy {seams.database.describe(run.staging_dsn)}")
    with run.step("staging") as found:
        plan = plan_staging(
            request.catalog,
            request.module,
            request.image,
            _production_images(request, seams.cluster),
            request.staging,
            port_offset=request.port_offset,
            database=seams.database.name_of(run.staging_dsn),
        )
        run.plan = plan
        stack.callback(_quietly, seams.cluster.remove_stack, plan.options.stack_name)
        seams.cluster.deploy_stack(plan.stack_text(), plan.options.stack_name)
        stack.callback(_quietly, seams.proxy.stop)
        seams.proxy.start(plan.nginx_text())
        _wait_ready(run, plan, found)


def _checks(run: _Run, plan: StagingPlan) -> None:
    seams = run.seams
    with run.step("migrations") as found:
        try:
            run.rehearsed = seams.database.migrate(
                run.staging_dsn, release=f"staging-{run.request.release_id}"
            )
        except StepFailed as exc:
            raise Blocked(f"migration failed in staging: {exc}", [str(exc)]) from None
        found.append(f"{len(run.rehearsed)} applied: {', '.join(run.rehearsed) or 'none'}")
    with run.step("compatibility") as found:
        problems = run_checks(run.request.checks, plan, seams.http)
        if problems:
            raise Blocked(f"compatibility: {problems[0]}", problems)
        found.append(f"{len(run.request.checks)} check(s) passed")
    with run.step("cross-module") as found:
        problems, latency = check_edges(plan, seams.http)
        if problems:
            raise Blocked(f"cross-module call {problems[0]}", problems)
        found += [f"{edge}: {ms:.1f} ms" for edge, ms in latency.items()]
    with run.step("flows") as found:
        problems = run_flows(plan, seams.http)
        if problems:
            raise Blocked(f"business flow {problems[0]}", problems)
        found.append(f"passed: {', '.join(flows_run(plan))}")


def _judge(run: _Run, plan: StagingPlan) -> Verdict:
    request, seams = run.request, run.seams
    with run.step("judge") as found:
        baseline, candidate = measure(plan, seams.http, request.load)
        spec = seams.cluster.service_spec(plan.service(plan.module))
        update = (spec or {}).get("UpdateStatus") or {}
        status = ReleaseStatus(
            update_state=update.get("State"),
            candidate_version=request.image,
            running_version=service_image(spec) if spec else None,
        )
        verdict = judge(
            baseline,
            candidate,
            request.judge_config,
            release_status=status,
            release_id=request.release_id,
            judged_at=seams.now(),
        )
        found.append(f"{verdict.verdict} (score {verdict.score:g}): {verdict.reason}")
        found += [f"{m.name}: {m.status} — {m.reason}" for m in verdict.metrics]
        run.verdict = verdict
        if verdict.verdict == "Failed":
            raise Blocked(f"judge: {verdict.reason}", [])
    return verdict


def _promote(run: _Run) -> None:
    request, seams = run.request, run.seams
    service = f"{request.production_stack}_{run.plan.module if run.plan else request.module}"
    with run.step("promote") as found:
        if run.rehearsed:
            applied = seams.database.migrate(None, release=request.release_id, expect=run.rehearsed)
            found.append(f"production migrations: {', '.join(applied)}")
        result = promote(
            seams.cluster,
            service,
            request.image,
            timeout_s=request.promote_timeout_s,
            poll_s=request.poll_s,
            clock=seams.monotonic,
            sleep=seams.sleep,
        )
        found.append(result.detail)
        if not result.succeeded:
            raise Blocked(f"promotion: {result.detail}", [f"UpdateStatus {result.state}"])


def _last_step(run: _Run) -> StepRecord:
    """The step that ended the run (teardown is bookkeeping, not a step of the release)."""
    ran = [s for s in run.steps if s.name != "teardown"]
    return ran[-1] if ran else StepRecord(name="start", status="passed")


def _final(run: _Run, name: str, reason: str) -> Verdict:
    judged = run.verdict
    return Verdict(
        id=run.request.release_id,
        verdict=name,
        score=judged.score if judged is not None and name != "Failed" else 0.0,
        reason=reason,
        metrics=judged.metrics if judged is not None else [],
        release_status=judged.release_status if judged is not None else None,
        judged_at=run.seams.now(),
        module=run.request.module,
        image=run.request.image,
        steps=run.steps,
    )


def run_release(request: ReleaseRequest, seams: Seams, listener: Listener | None = None) -> Verdict:
    """Run the pipeline; the final verdict (also stored when ``seams.store`` is set).

    Successful: promoted (or, with ``promote=False``, ready to be). Failed: blocked at the
    step its reason names, or Swarm rolled the promotion back. Inconclusive: the judge could
    not decide, or a step could not run (its record says why).

    Raises
    ------
    NotFoundError
        The module is not in the catalog (nothing ran).
    """
    request.catalog.get(request.module)  # unknown module: bad input before anything runs
    run = _Run(request, seams, listener or (lambda _name, _record: None))
    outcome: tuple[str, str]
    stack = ExitStack()
    try:
        try:
            _staging(run, stack)
            assert run.plan is not None
            _checks(run, run.plan)
            verdict = _judge(run, run.plan)
        finally:
            _teardown(run, stack)  # staging down before production changes, whatever happened
        if verdict.verdict == "Inconclusive":
            outcome = ("Inconclusive", f"judge inconclusive, not promoted: {verdict.reason}")
        elif not request.promote:
            outcome = ("Successful", f"passed every step, not promoted (asked): {verdict.reason}")
        else:
            _promote(run)
            outcome = ("Successful", f"promoted {request.image} to production")
    except Blocked as exc:
        outcome = ("Failed", f"blocked at {_last_step(run).name}: {exc.detail}")
    except NexusError as exc:
        failed = _last_step(run)
        if failed.status != "error":
            raise  # bad input before any step ran: the CLI's exit 2
        outcome = ("Inconclusive", f"step {failed.name} could not run: {exc}")
    done = {s.name for s in run.steps}
    for name in STEPS:
        if name not in done:
            run.steps.append(StepRecord(name=name, status="skipped"))
    final = _final(run, *outcome)
    if seams.store is not None:
        seams.store.save(final)
    return final
