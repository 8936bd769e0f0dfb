"""``nexus-ml release MODULE --image REF`` on the real Swarm, registry, nginx and PostgreSQL.

One production deployment (the ERP's three modules from the catalog, pinned by digest, its
own database with the bundled migrations and a few rows) is shared by three releases of CRM,
each run through the real CLI in a subprocess:

- a candidate whose migration leaves a NOT VALID constraint is blocked at ``migrations``;
- a candidate failing its healthcheck is blocked at ``staging``;
- a good candidate with a benign migration is promoted (production runs it, and production's
  database got the migration).

For both blocked ones, production is untouched: ``pg_dump`` and ``docker service inspect`` of
every production service are identical before and after. What this Swarm can network (see
tests/deploy/test_swarm_deploy.py): tasks on the host network bound to 127.0.0.1, staging's
nginx a local process on loopback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

from nexus_ml.deploy import DeployOptions, render_stack
from nexus_ml.deploy.docker_cli import build_image, push_image
from nexus_ml.migrate.commands import DEFAULT_MIGRATIONS_DIR, load_graph
from nexus_ml.migrate.dbmap import load_map
from nexus_ml.migrate.pg import with_dbname
from nexus_ml.migrate.runner import Coordinator
from nexus_ml.migrate.staging import libpq_env, pg_tool
from nexus_ml.release.store import FileReleaseStore
from tests.conftest import require_env
from tests.deploy import swarm_harness as h

pytestmark = [pytest.mark.integration, pytest.mark.slow]
MODULES = ("nexus-user-management", "nexus-agendamento", "nexus-crm")
NEXUS_ML = [sys.executable, "-c", "from nexus_ml.cli.main import main; main()"]

GOOD_MIGRATION = """\
-- CRM 2: free-text notes on a customer (nullable: old code ignores it).
-- migrate:up
ALTER TABLE crm.customers ADD COLUMN notes text;
-- migrate:verify
SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'crm'
    AND table_name = 'customers' AND column_name = 'notes');
-- migrate:down
ALTER TABLE crm.customers DROP COLUMN notes;
"""
# A constraint added NOT VALID and never validated: rows that break it stay, unseen.
BAD_MIGRATION = """\
-- CRM 2 (bad): every customer must have an e-mail, but existing rows are not checked.
-- migrate:up
ALTER TABLE crm.customers ADD CONSTRAINT customers_email_required
    CHECK (email IS NOT NULL) NOT VALID;
-- migrate:verify
SELECT true;
-- migrate:down
ALTER TABLE crm.customers DROP CONSTRAINT customers_email_required;
"""


# The candidate is version 2: a check that reached the baseline (version 1) would fail.
CONTRACT_CHECK = """\
import json, os, sys, urllib.request
with urllib.request.urlopen(os.environ["NEXUS_RELEASE_URL"] + "/api/info", timeout=5) as r:
    info = json.load(r)
sys.exit(0 if info["version"] == "2" and info["module"] == "nexus-crm" else 1)
"""


@dataclass
class Production:
    root: Path
    registry: str
    prefix: str
    dsn: str
    ports: dict[str, int] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    catalog_path: Path | None = None

    def service(self, module: str) -> str:
        return f"{self.prefix}_{module}"

    def inspect_all(self) -> dict[str, Any]:
        return {m: h.inspect_service(self.service(m)) for m in MODULES}

    def dump(self) -> str:
        dsn, env = libpq_env(self.dsn)
        out = subprocess.run(
            [pg_tool("pg_dump"), "--dbname", dsn],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=60,
        ).stdout
        # pg_dump >= 17.6 writes a random \restrict key per dump
        return "\n".join(ln for ln in out.splitlines() if not ln.startswith("\\"))

    def migrations(self, name: str, extra: str | None) -> Path:
        target = self.root / f"migrations-{name}"
        shutil.copytree(DEFAULT_MIGRATIONS_DIR, target)
        if extra is not None:
            (target / "crm" / "0004_crm_two.sql").write_text(extra, encoding="utf-8")
        return target


def _staging_offset(ports: dict[str, int]) -> int:
    """An offset that moves every port (and one above them, the baseline's) to free ports."""
    for offset in (-20000, -15000, -10000, -25000, 2000, 3000):
        moved = [p + offset for p in ports.values()]
        moved.append(max(moved) + 1)
        if all(1024 < p < 65536 for p in moved) and all(_free(p) for p in moved):
            return offset
    raise AssertionError(f"no free staging ports for {ports}")


def _free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _build(prod: Production) -> None:
    registry = f"{prod.registry}/{prod.prefix}"
    digests = h.build_and_push(prod.root, registry)  # nexus-module:1 and 2-bad
    v2 = prod.root / "v2"
    v2.mkdir()
    (v2 / "Dockerfile").write_text(f"FROM {registry}/nexus-module:1\nENV MODULE_VERSION=2\n")
    build_image(v2, f"{registry}/nexus-module:2")
    digests["nexus-module:2"] = push_image(f"{registry}/nexus-module:2")
    prod.digests = digests
    prod.images = {
        tag: f"{registry}/{tag.split(':')[0]}@{digest}" for tag, digest in digests.items()
    }


def _database(prod: Production, admin_dsn: str) -> None:
    name = prod.prefix.replace("-", "_")
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    prod.dsn = with_dbname(admin_dsn, name)
    Coordinator(prod.dsn, load_map()).apply(load_graph(), release="production-1")
    with psycopg.connect(prod.dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO user_management.users (email, full_name, created_at) "
            "VALUES ('ana@nexus.test', 'Ana', now())"
        )
        conn.execute(
            "INSERT INTO crm.customers (owner_id, name, email, telefone, created_at) "
            "SELECT id, 'Cliente A', NULL, '11 5555-0000', now() FROM user_management.users"
        )


def _deploy(prod: Production) -> None:
    prod.ports = {m: h.free_port() for m in MODULES}
    catalog = h.test_catalog(prod.ports)
    data = yaml.safe_load(catalog.model_dump_json(by_alias=True))
    prod.catalog_path = prod.root / "catalog.yaml"
    prod.catalog_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    options = DeployOptions(
        registry=f"{prod.registry}/{prod.prefix}",
        digests={"nexus-module:1": prod.digests["nexus-module:1"]},
        stack_name=prod.prefix,
        network="host",
        bind_address="127.0.0.1",
        resolver="127.0.0.1",
        include_nexus_ml=False,
        reservation_fraction=0.05,
        update_delay_s=0,
        stop_grace_period_s=1,
    )
    stack = prod.root / "production.yml"
    stack.write_text(render_stack(catalog, options), encoding="utf-8")
    proc = h.stack_deploy(stack, prod.prefix)
    assert proc.returncode == 0, proc.stderr
    for module in catalog:
        h.poll(
            f"production {module.name} running",
            lambda m=module: h.running_tasks(prod.service(m.name)) >= m.min_replicas,
            timeout_s=90,
        )


@pytest.fixture(scope="module")
def production(
    docker_host: str, pg_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Production]:
    registry = require_env("NEXUS_TEST_REGISTRY", "the Docker registry on loopback")
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is not installed (scripts/services.sh up installs it)")
    prod = Production(
        tmp_path_factory.mktemp("release"), registry, f"t15-{uuid.uuid4().hex[:6]}", ""
    )
    try:
        _build(prod)
        _database(prod, pg_dsn)
        _deploy(prod)
        yield prod
    finally:
        made = [f"{registry}/{prod.prefix}/{i}" for i in (*prod.digests, "nexus-python:test")]
        h.stack_rm(prod.prefix, made)
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            name = prod.prefix.replace("-", "_")
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@dataclass
class Run:
    code: int
    verdict: dict[str, Any]
    stderr: str
    seconds: float

    def step(self, name: str) -> dict[str, Any]:
        return next(s for s in self.verdict["steps"] if s["name"] == name)


def release(prod: Production, case: str, image: str, migrations: Path, *extra: str) -> Run:
    assert prod.catalog_path is not None
    staging = f"{prod.prefix}-s{case}"
    env = {
        **os.environ,
        "NEXUS_CATALOG_PATH": str(prod.catalog_path),
        "NEXUS_STATE_DIR": str(prod.root / "state"),
        "NEXUS_PG_DSN": "",  # verdicts in files under the state dir; the ERP's DB is --dsn
        "COLUMNS": "160",
    }
    env.pop("NEXUS_PG_DSN")
    args = [
        *NEXUS_ML,
        "release",
        "crm",
        "--image",
        image,
        "--id",
        f"{prod.prefix}-{case}",
        "--production-stack",
        prod.prefix,
        "--staging-stack",
        staging,
        f"--port-offset={_staging_offset(prod.ports)}",
        "--proxy-listen",
        f"127.0.0.1:{h.free_port()}",
        "--dsn",
        prod.dsn,
        "--migrations-dir",
        str(migrations),
        "--windows",
        "12",
        "--requests-per-window",
        "16",
        "--ready-timeout",
        "60",
        "--promote-timeout",
        "90",
        *extra,
    ]
    start = time.monotonic()
    try:
        proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    except subprocess.TimeoutExpired:
        # the pipeline's own teardown never ran: leave nothing on the shared engine
        subprocess.run(["docker", "stack", "rm", staging], capture_output=True, timeout=60)
        raise
    seconds = time.monotonic() - start
    assert proc.stdout.strip(), f"no verdict on stdout (exit {proc.returncode}): {proc.stderr}"
    verdict = json.loads(proc.stdout)
    timings = {s["name"]: s["seconds"] for s in verdict["steps"] if s["status"] != "skipped"}
    print(f"release {case}: exit {proc.returncode} in {seconds:.1f} s; steps {timings}")
    print(proc.stderr[-3000:])
    # staging is gone whatever happened: its services and its database copy
    assert not h.docker("service", "ls", "-q", "--filter", f"name={staging}_").strip()
    with psycopg.connect(prod.dsn, autocommit=True) as conn:
        copies = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            (prod.prefix.replace("-", "_") + "_staging_%",),
        ).fetchall()
    assert copies == []
    return Run(proc.returncode, verdict, proc.stderr, seconds)


def test_a_migration_breaking_an_integrity_check_is_blocked_before_production(
    production: Production,
) -> None:
    before = (production.dump(), production.inspect_all())
    run = release(
        production,
        "b",
        production.images["nexus-module:2"],
        production.migrations("bad", BAD_MIGRATION),
    )
    assert run.code == 1, run.stderr
    assert run.verdict["verdict"] == "Failed"
    assert run.verdict["reason"].startswith("blocked at migrations")
    migrations = run.step("migrations")
    assert migrations["status"] == "failed"
    assert (
        "customers_email_required" in migrations["detail"] and "NOT VALID" in migrations["detail"]
    )
    assert [s["status"] for s in run.verdict["steps"] if s["name"] in ("database", "staging")] == [
        "passed",
        "passed",
    ]
    for later in ("compatibility", "cross-module", "flows", "judge", "promote"):
        assert run.step(later)["status"] == "skipped"
    assert (production.dump(), production.inspect_all()) == before


def test_a_candidate_failing_its_healthcheck_is_blocked_and_production_untouched(
    production: Production,
) -> None:
    before = (production.dump(), production.inspect_all())
    run = release(
        production,
        "c",
        production.images["nexus-module:2-bad"],
        production.migrations("none", None),
    )
    assert run.code == 1, run.stderr
    assert run.verdict["verdict"] == "Failed"
    staging = run.step("staging")
    assert staging["status"] == "failed", staging
    assert "candidate" in staging["detail"]
    assert run.step("promote")["status"] == "skipped"
    assert (production.dump(), production.inspect_all()) == before


def test_a_good_candidate_is_promoted(production: Production) -> None:
    crm = production.service("nexus-crm")
    others = {m: h.inspect_service(production.service(m)) for m in MODULES if m != "nexus-crm"}
    candidate = production.images["nexus-module:2"]
    # a project's own contract check, run as a command against the candidate through nginx
    check = production.root / "contract_check.py"
    check.write_text(CONTRACT_CHECK, encoding="utf-8")
    run = release(
        production,
        "a",
        candidate,
        production.migrations("good", GOOD_MIGRATION),
        "--check",
        "http-contract",
        "--check",
        f"contract={sys.executable} {check}",
    )
    assert run.code == 0, run.stderr + json.dumps(run.verdict, indent=1)
    assert run.verdict["verdict"] == "Successful", run.verdict["reason"]
    assert all(s["status"] == "passed" for s in run.verdict["steps"]), run.verdict["steps"]
    assert run.step("migrations")["findings"] == ["1 applied: crm:0004"]
    assert run.step("compatibility")["findings"] == ["2 check(s) passed"]
    metrics = {m["name"]: m for m in run.verdict["metrics"]}
    assert metrics["latency_ms"]["n_candidate"] == 12
    assert "call_latency_ms:nexus-agendamento->nexus-crm" in metrics
    # production now runs the candidate, Swarm settled the update, nothing else changed
    spec = h.inspect_service(crm)
    assert spec["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == candidate
    assert spec["UpdateStatus"]["State"] == "completed"
    h.poll("production CRM running", lambda: h.running_tasks(crm) >= 1, timeout_s=30)
    assert {m: h.inspect_service(production.service(m)) for m in others} == others
    # production's database got the rehearsed migration, recorded under the release id
    with psycopg.connect(production.dsn, autocommit=True) as conn:
        column = conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = 'crm' "
            "AND table_name = 'customers' AND column_name = 'notes'"
        ).fetchone()
        released = conn.execute(
            "SELECT r.name FROM nexus_migrate.history h JOIN nexus_migrate.releases r "
            "ON r.seq = h.release_seq WHERE h.module = 'crm' AND h.number = '0004'"
        ).fetchone()
    assert column == (1,) and released == (f"{production.prefix}-a",)
    # the stored verdict is the one printed (what /v1/releases/{id} serves)
    stored = FileReleaseStore(production.root / "state" / "releases").get(f"{production.prefix}-a")
    assert stored.model_dump(mode="json") == run.verdict
