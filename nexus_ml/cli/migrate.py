"""``nexus-ml migrate``: the ERP's cross-module migrations (map, impact, all-modules, rollback,
lint, status, plan). Thin: parse options, call :mod:`nexus_ml.migrate.commands`, render."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from nexus_ml.cli.common import console, err_console, exits_cleanly, settings
from nexus_ml.errors import InputError

if TYPE_CHECKING:
    from nexus_ml.migrate.dbmap import DatabaseMap
    from nexus_ml.migrate.graph import MigrationGraph
    from nexus_ml.migrate.parser import Migration
    from nexus_ml.migrate.pg import SessionSettings

MIGRATIONS = typer.Option(None, "--migrations-dir", help="Migrations root (default: bundled)")
MAP = typer.Option(None, "--map", help="Database map YAML (default: bundled)")
DSN = typer.Option(None, "--dsn", help="PostgreSQL DSN (default: NEXUS_PG_DSN)")


def _dsn(value: str | None) -> str:
    if value:
        return value
    secret = settings().pg_dsn
    if secret is None:
        raise InputError("no database: pass --dsn or set NEXUS_PG_DSN")
    return secret.get_secret_value()


def _project(
    migrations_dir: Path | None, map_path: Path | None
) -> tuple[MigrationGraph, DatabaseMap]:
    from nexus_ml.catalog import load_catalog
    from nexus_ml.migrate.commands import load_graph
    from nexus_ml.migrate.dbmap import load_map

    catalog = load_catalog(settings().catalog_path)
    return load_graph(migrations_dir, catalog), load_map(map_path)


_PG_DURATION = re.compile(r"\s*\d+(\.\d+)?\s*(us|ms|s|min|h|d)?\s*")


def _pg_duration(option: str, value: str) -> str:
    # checked here so that a typo is exit 2 naming the option, not a raw server error
    if not _PG_DURATION.fullmatch(value):
        raise InputError(
            f"{option} must be a PostgreSQL duration such as 500ms, 5s or 15min "
            f"(0 for none), got {value!r}"
        )
    return value.strip()


def _session(lock_wait: float, lock_timeout: str, statement_timeout: str) -> SessionSettings:
    from nexus_ml.migrate.pg import SessionSettings

    if not 0 <= lock_wait <= 86_400:
        raise InputError(f"--lock-wait must be between 0 and 86400 seconds, got {lock_wait:g}")
    lock_timeout = _pg_duration("--lock-timeout", lock_timeout)
    statement_timeout = _pg_duration("--statement-timeout", statement_timeout)
    return SessionSettings(
        lock_timeout=lock_timeout, statement_timeout=statement_timeout, lock_wait_s=lock_wait
    )


def _progress(line: str) -> None:
    console.print(f"  [green]✓[/green] {line}", highlight=False)


def register(app: typer.Typer) -> None:
    mig = typer.Typer(
        help="Cross-module PostgreSQL migrations of the ERP's modules.", no_args_is_help=True
    )
    app.add_typer(mig, name="migrate")

    @mig.command("map")
    @exits_cleanly
    def map_(
        from_db: str | None = typer.Option(None, "--from-db", help="Compare a live database"),
        write_docs: Path | None = typer.Option(None, "--write-docs", help="Write the Markdown"),
        map_path: Path | None = MAP,
    ) -> None:
        """Show the database map; --from-db reports drift; --write-docs regenerates the doc."""
        from nexus_ml.migrate.commands import map_drift
        from nexus_ml.migrate.dbmap import load_map
        from nexus_ml.migrate.docs import render_markdown
        from nexus_ml.migrate.errors import SchemaDrift
        from nexus_ml.migrate.pg import redact

        dbmap = load_map(map_path)
        if write_docs:
            write_docs.write_text(render_markdown(dbmap))
            console.print(f"wrote {write_docs}")
        if from_db:
            diffs = map_drift(from_db, dbmap)
            if diffs:
                table = Table(title=f"Drift: {redact(from_db)} vs the map")
                for col in ("difference", "object", "map", "database"):
                    table.add_column(col)
                for d in diffs:
                    table.add_row(d.kind, d.target, d.expected, d.actual)
                console.print(table)
                raise SchemaDrift(redact(from_db), len(diffs), str(diffs[0]))
            console.print(f"{redact(from_db)} matches the map")
            return
        if not write_docs:
            table = Table(title="Database map")
            for col in ("module", "schema", "table", "columns", "used by"):
                table.add_column(col)
            for m in dbmap.modules:
                for t, cols in m.tables.items():
                    users = sorted({dbmap.module_of(r) for r in dbmap.users_of(m.schema_name, t)})
                    table.add_row(
                        m.module, m.schema_name, t, str(len(cols)), ", ".join(users) or "—"
                    )
            console.print(table)

    @mig.command("impact")
    @exits_cleanly
    def impact(
        migration: str = typer.Argument(..., help="module:NNNN, e.g. crm:0002 or nexus-crm:0002"),
        migrations_dir: Path | None = MIGRATIONS,
        map_path: Path | None = MAP,
    ) -> None:
        """What a migration changes and which modules, tables and columns it affects."""
        from nexus_ml.catalog import load_catalog
        from nexus_ml.migrate.commands import schema_key
        from nexus_ml.migrate.impact import analyse_impact

        graph, dbmap = _project(migrations_dir, map_path)
        key = schema_key(migration, load_catalog(settings().catalog_path))
        report = analyse_impact(graph, dbmap, key)
        table = Table(title=f"Impact of {key}")
        for col in ("module", "object", "change", "via"):
            table.add_column(col)
        for c in report.changes:
            obj = ".".join(p for p in (c.schema_name, c.table, c.column) if p)
            table.add_row(c.module, obj, c.change_type.value, f"this migration {c.detail}".strip())
        for a in report.affected:
            table.add_row(a.module, a.target, a.change_type.value, a.via)
        console.print(table)
        console.print(f"modules affected: {', '.join(report.modules) or 'none'}")

    @mig.command("plan")
    @exits_cleanly
    def plan(migrations_dir: Path | None = MIGRATIONS) -> None:
        """The order every migration runs in (from the files alone, no database)."""
        graph, _ = _project(migrations_dir, None)
        _plan_table("Migration order", graph.order())

    @mig.command("lint")
    @exits_cleanly
    def lint(migrations_dir: Path | None = MIGRATIONS, map_path: Path | None = MAP) -> None:
        """Flag dangerous operations; exit 6 when there is any."""
        from nexus_ml.migrate.commands import lint as lint_cmd
        from nexus_ml.migrate.errors import LintFailed

        graph, dbmap = _project(migrations_dir, map_path)
        findings = lint_cmd(graph, dbmap)
        for f in findings:
            console.print(f"[yellow]{f}[/yellow]", highlight=False, soft_wrap=True)
        if findings:
            raise LintFailed(len(findings), str(findings[0]))
        console.print(f"{len(graph.migrations)} migrations, no finding")

    @mig.command("status")
    @exits_cleanly
    def status(dsn: str | None = DSN, migrations_dir: Path | None = MIGRATIONS) -> None:
        """Applied, pending and drifted migrations of a database."""
        from nexus_ml.migrate.runner import Coordinator

        graph, dbmap = _project(migrations_dir, None)
        coord = Coordinator(_dsn(dsn), dbmap)
        table = Table(title=f"Migrations on {coord.database}")
        for col in ("migration", "name", "state", "release"):
            table.add_column(col)
        for row in coord.status(graph):
            table.add_row(row.key, row.name, row.state, row.release)
        console.print(table)
        from nexus_ml.migrate.staging import abandoned_copies

        stale = abandoned_copies(coord.conninfo)
        if stale:
            console.print(
                f"[yellow]abandoned staging copies (the next --staging run drops them): "
                f"{', '.join(stale)}[/yellow]",
                highlight=False,
            )

    @mig.command("all-modules")
    @exits_cleanly
    def all_modules(
        dsn: str | None = DSN,
        dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan, change nothing"),
        staging: bool = typer.Option(False, "--staging", help="Rehearse on a copy first"),
        release: str | None = typer.Option(None, "--release", help="Name of this release"),
        lock_wait: float = typer.Option(30.0, help="Seconds to wait for the migration lock"),
        lock_timeout: str = typer.Option("5s", help="PostgreSQL lock_timeout per statement"),
        statement_timeout: str = typer.Option("15min", help="PostgreSQL statement_timeout"),
        no_lint: bool = typer.Option(False, "--no-lint", help="Apply despite lint findings"),
        migrations_dir: Path | None = MIGRATIONS,
        map_path: Path | None = MAP,
    ) -> None:
        """Apply every module's pending migrations as one unit (npm run migrate:all-modules)."""
        from nexus_ml.migrate import commands
        from nexus_ml.migrate.runner import Coordinator

        graph, dbmap = _project(migrations_dir, map_path)
        conninfo = _dsn(dsn)
        session = _session(lock_wait, lock_timeout, statement_timeout)
        if dry_run:
            coord = Coordinator(conninfo, dbmap, session)
            _plan_table(f"Pending on {coord.database} (dry run)", coord.pending(graph))
            for f in commands.lint(graph, dbmap):
                err_console.print(f"[yellow]{f}[/yellow]", highlight=False, soft_wrap=True)
            return
        result = commands.all_modules(
            conninfo,
            graph,
            dbmap,
            release=release,
            staging=staging,
            settings=session,
            progress=_progress,
            check_lint=not no_lint,
        )
        if result.staging is not None:
            console.print(
                f"staging rehearsal passed ({len(result.staging.applied)} migrations, "
                f"{result.staging.wall_s:.2f} s)"
            )
        rep = result.production
        if rep is None or not rep.applied:
            console.print("nothing to apply: every migration is applied")
            return
        console.print(
            f"release {rep.release}: {len(rep.applied)} migrations applied in "
            f"{rep.wall_s:.2f} s (lock held {rep.lock_hold_s:.2f} s)"
        )

    @mig.command("rollback")
    @exits_cleanly
    def rollback(
        to: str = typer.Option(..., "--to", help="Release to go back to (name, number, base)"),
        dsn: str | None = DSN,
        lock_wait: float = typer.Option(30.0, help="Seconds to wait for the migration lock"),
        migrations_dir: Path | None = MIGRATIONS,
        map_path: Path | None = MAP,
    ) -> None:
        """Run down parts, newest first, back to a release; all or nothing."""
        from nexus_ml.migrate import commands

        graph, dbmap = _project(migrations_dir, map_path)
        rep = commands.rollback(
            _dsn(dsn),
            graph,
            dbmap,
            to,
            settings=_session(lock_wait, "5s", "15min"),
            progress=_progress,
        )
        if not rep.applied:
            console.print(f"already at {to}: nothing to roll back")
            return
        console.print(f"rolled back {len(rep.applied)} migrations to {to} in {rep.wall_s:.2f} s")


def _plan_table(title: str, steps: Sequence[Migration]) -> None:
    table = Table(title=title)
    table.add_column("#", justify="right")
    table.add_column("migration", no_wrap=True)
    for col in ("name", "runs", "depends on"):
        table.add_column(col)
    for i, m in enumerate(steps, start=1):
        runs = "in transaction" if m.transactional else "after commit"
        table.add_row(str(i), m.key, m.name, runs, ", ".join(m.depends_on) or "—")
    console.print(table)
    if not steps:
        console.print("nothing pending")


if __name__ == "__main__":  # `python -m nexus_ml.cli.migrate migrate ...` (used by tests)
    _app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    register(_app)
    _app()
