"""Migration coordinator at scale: 50 modules x 10 tables x 5 migrations (250 migrations).

Measures, in the same run:
- plan (pure): parse every file, build the graph, order it, lint it; reference: the same
  edges ordered by ``graphlib.TopologicalSorter`` (no parsing, no lint);
- apply on the real PostgreSQL (``NEXUS_PG_DSN``): the coordinator's wall time and advisory-lock
  hold time (one transaction, a savepoint and integrity checks per module); reference: the same
  up statements, concatenated in plan order, applied by ``psql -1 -f`` (one transaction,
  no checks, no history).
Prints a table and writes ``bench/results/migrate.json`` with the ratios.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from graphlib import TopologicalSorter
from pathlib import Path

import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from nexus_ml.migrate.dbmap import DatabaseMap
from nexus_ml.migrate.graph import MigrationGraph
from nexus_ml.migrate.lint import lint_all
from nexus_ml.migrate.parser import load_migrations
from nexus_ml.migrate.pg import SessionSettings, with_dbname
from nexus_ml.migrate.runner import Coordinator
from nexus_ml.migrate.staging import libpq_env, pg_tool

ROOT = Path(__file__).resolve().parents[1]

MODULES, TABLES, MIGRATIONS = 50, 10, 5
REPEATS = 2  # apply runs per method (the median of 2 is their mean)
OUT = ROOT / "bench" / "results" / "migrate.json"


def schema(i: int) -> str:
    return f"bm{i:02d}"


def generate(root: Path) -> DatabaseMap:
    """Write the migration files; return the matching database map (for the orphan checks)."""
    modules = []
    references = []
    for i in range(MODULES):
        s, parent = schema(i), schema(i // 2)  # a tree of cross-module foreign keys
        d = root / s
        d.mkdir(parents=True)
        tables = [f"t{j}" for j in range(TABLES)]
        fk = i > 0
        create = [f"CREATE SCHEMA {s};"] + [
            f"CREATE TABLE {s}.{t} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            + (f"parent_id bigint REFERENCES {parent}.t0 (id), " if fk and t == "t0" else "")
            + "payload text);"
            for t in tables
        ]
        files = {
            "0001_base": (f"{parent}:0001" if fk else "", create),
            "0002_add_note": ("", [f"ALTER TABLE {s}.{t} ADD COLUMN note text;" for t in tables]),
            "0003_note_check": (
                "",
                [
                    f"ALTER TABLE {s}.{t} ADD CONSTRAINT {t}_note_len CHECK (length(note) < 500) "
                    f"NOT VALID;\nALTER TABLE {s}.{t} VALIDATE CONSTRAINT {t}_note_len;"
                    for t in tables
                ],
            ),
            "0004_audit": (
                "",
                [
                    f"CREATE TABLE {s}.audit (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                    f"t0_id bigint REFERENCES {s}.t0 (id), at timestamptz DEFAULT now());",
                    f"CREATE INDEX audit_t0_idx ON {s}.audit (t0_id);",
                ],
            ),
            "0005_rank": (
                f"{parent}:0005" if fk else "",
                [f"ALTER TABLE {s}.{t} ADD COLUMN rank integer DEFAULT 0;" for t in tables],
            ),
        }
        for name, (dep, ups) in files.items():
            head = f"-- migrate:depends {dep}\n" if dep else ""
            (d / f"{name}.sql").write_text(f"{head}-- migrate:up\n" + "\n".join(ups) + "\n")
        columns = {"id": "bigint", "payload": "text", "note": "text", "rank": "integer"}
        table_map = {t: dict(columns) for t in tables}
        if fk:
            table_map["t0"]["parent_id"] = "bigint"
            references.append(
                {"kind": "foreign_key", "from": f"{s}.t0.parent_id", "to": f"{parent}.t0.id"}
            )
        modules.append({"module": s, "schema": s, "tables": table_map})
    return DatabaseMap.model_validate({"modules": modules, "references": references})


def plan_once(root: Path, dbmap: DatabaseMap) -> tuple[dict[str, float], MigrationGraph]:
    """Seconds of each pure planning step: parse the files, build + order the graph, lint."""
    t0 = time.perf_counter()
    migrations = load_migrations(root)
    t1 = time.perf_counter()
    graph = MigrationGraph(migrations)
    graph.order()
    t2 = time.perf_counter()
    lint_all(graph.order(), dbmap)
    t3 = time.perf_counter()
    return {"parse_s": t1 - t0, "graph_s": t2 - t1, "lint_s": t3 - t2, "plan_s": t3 - t0}, graph


def reference_order(graph: MigrationGraph) -> float:
    start = time.perf_counter()
    list(TopologicalSorter({k: set(v) for k, v in graph.requires.items()}).static_order())
    return time.perf_counter() - start


def fresh_database(dsn: str) -> str:
    name = f"bench_migrate_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return name


def drop_database(dsn: str, name: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def apply_with_psql(dsn: str, graph: MigrationGraph, work: Path) -> float:
    script = work / "plan.sql"
    script.write_text("".join(f"{st.text};\n" for m in graph.order() for st in m.up))
    name = fresh_database(dsn)
    try:
        conn, env = libpq_env(with_dbname(dsn, name))
        start = time.perf_counter()
        subprocess.run(
            [
                pg_tool("psql"),
                "-X",
                "-q",
                "-1",
                "-v",
                "ON_ERROR_STOP=1",
                "-f",
                str(script),
                "--dbname",
                conn,
            ],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - start
    finally:
        drop_database(dsn, name)


def apply_with_coordinator(dsn: str, graph: MigrationGraph, dbmap: DatabaseMap) -> dict[str, float]:
    name = fresh_database(dsn)
    try:
        report = Coordinator(with_dbname(dsn, name), dbmap, SessionSettings()).apply(graph)
        assert len(report.applied) == MODULES * MIGRATIONS, report.applied
        return {
            "wall_s": report.wall_s,
            "lock_hold_s": report.lock_hold_s,
            "units": float(len(report.units)),
        }
    finally:
        drop_database(dsn, name)


def main() -> None:
    dsn = os.environ.get("NEXUS_PG_DSN")
    if not dsn:
        sys.exit("NEXUS_PG_DSN is not set (run through `make bench`)")
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dbmap = generate(work / "migrations")
        plans = [plan_once(work / "migrations", dbmap) for _ in range(5)]
        graph = plans[0][1]
        plan = {k: statistics.median(p[0][k] for p in plans) for k in plans[0][0]}
        ref_order_s = statistics.median(reference_order(graph) for _ in range(5))
        runs = [apply_with_coordinator(dsn, graph, dbmap) for _ in range(REPEATS)]
        psql_s = statistics.median(apply_with_psql(dsn, graph, work) for _ in range(REPEATS))
    wall = statistics.median(r["wall_s"] for r in runs)
    hold = statistics.median(r["lock_hold_s"] for r in runs)
    ratios = {
        "apply_over_psql": wall / psql_s,
        "lock_hold_over_psql": hold / psql_s,
        "graph_over_graphlib_order": plan["graph_s"] / ref_order_s,
        "plan_over_apply": plan["plan_s"] / wall,
    }
    result = {
        "shape": {
            "modules": MODULES,
            "tables_per_module": TABLES,
            "migrations_per_module": MIGRATIONS,
            "migrations": MODULES * MIGRATIONS,
            "savepoint_units": runs[0]["units"],
            "repeats": REPEATS,
        },
        "plan": plan,
        "reference_graphlib_order_s": ref_order_s,
        "apply_wall_s": wall,
        "lock_hold_s": hold,
        "reference_psql_single_transaction_s": psql_s,
        "ratios": ratios,
    }
    table = Table(title=f"migrate: {MODULES} modules x {TABLES} tables x {MIGRATIONS} migrations")
    for col in ("measure", "seconds", "reference", "ratio"):
        table.add_column(col)
    table.add_row("plan: parse 250 files", f"{plan['parse_s']:.3f}", "", "")
    table.add_row(
        "plan: graph build + order",
        f"{plan['graph_s']:.4f}",
        f"graphlib order {ref_order_s:.4f}",
        f"{ratios['graph_over_graphlib_order']:.1f}x",
    )
    table.add_row("plan: lint", f"{plan['lint_s']:.3f}", "", "")
    table.add_row(
        "plan total (pure)",
        f"{plan['plan_s']:.3f}",
        f"apply {wall:.2f}",
        f"{ratios['plan_over_apply']:.3f}x",
    )
    table.add_row(
        "apply (coordinator wall)",
        f"{wall:.2f}",
        f"psql -1 -f {psql_s:.2f}",
        f"{ratios['apply_over_psql']:.2f}x",
    )
    table.add_row(
        "advisory lock held",
        f"{hold:.2f}",
        f"psql -1 -f {psql_s:.2f}",
        f"{ratios['lock_hold_over_psql']:.2f}x",
    )
    console.print(table)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
