"""The facade: one function per ``nexus-ml migrate`` verb, composing the layers below.

The CLI (``nexus_ml/cli/migrate.py``) only parses arguments and renders what these return.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nexus_ml.catalog import Catalog
from nexus_ml.errors import NexusError
from nexus_ml.migrate.dbmap import DatabaseMap
from nexus_ml.migrate.errors import LintFailed
from nexus_ml.migrate.graph import MigrationGraph
from nexus_ml.migrate.introspect import Difference, database_drift
from nexus_ml.migrate.lint import LintFinding, lint_all
from nexus_ml.migrate.parser import load_migrations
from nexus_ml.migrate.pg import SessionSettings, open_session
from nexus_ml.migrate.rollback import rollback_to
from nexus_ml.migrate.runner import Coordinator, Progress, RunReport
from nexus_ml.migrate.staging import staging_copy

DEFAULT_MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


@dataclass
class AllModulesResult:
    """A production run, and the staging rehearsal before it when one was asked for."""

    production: RunReport | None
    staging: RunReport | None = None


def module_order(catalog: Catalog | None) -> list[str]:
    """Schema names in the catalog's dependency order (the graph's tie-break)."""
    if catalog is None:
        return []
    return [catalog.get(name).schema_name for name in catalog.dependency_order()]


def schema_key(key: str, catalog: Catalog | None) -> str:
    """``nexus-crm:0002`` -> ``crm:0002``: catalog module names work where keys are expected."""
    module, sep, number = key.partition(":")
    if catalog is None or not sep:
        return key
    try:
        return f"{catalog.get(module).schema_name}:{number}"
    except NexusError:
        return key  # not a catalog name: maybe already a schema-style module


def load_graph(
    migrations_dir: Path | None = None, catalog: Catalog | None = None
) -> MigrationGraph:
    """Parse every migration file and build the validated graph (bad input raises exit 2)."""
    migrations = load_migrations(migrations_dir or DEFAULT_MIGRATIONS_DIR)
    return MigrationGraph(migrations, module_order(catalog))


def lint(graph: MigrationGraph, dbmap: DatabaseMap) -> list[LintFinding]:
    return lint_all(graph.order(), dbmap)


def all_modules(
    conninfo: str,
    graph: MigrationGraph,
    dbmap: DatabaseMap,
    *,
    release: str | None = None,
    staging: bool = False,
    settings: SessionSettings | None = None,
    progress: Progress | None = None,
    check_lint: bool = True,
) -> AllModulesResult:
    """``migrate all-modules``: lint, optionally rehearse on a copy, then apply.

    Raises
    ------
    LintFailed
        Unacknowledged dangerous operations in the pending migrations (``check_lint``).
    StepFailed, DriftError, LockTimeout
        From the staging rehearsal (production untouched) or the production run.
    """
    coordinator = Coordinator(conninfo, dbmap, settings, progress)
    # Gate on what is about to run: an applied migration's findings are history.
    if check_lint and (findings := lint_all(coordinator.pending(graph), dbmap)):
        raise LintFailed(len(findings), str(findings[0]))
    rehearsal: RunReport | None = None
    if staging:
        with staging_copy(conninfo) as copy:
            rehearsal = Coordinator(copy, dbmap, settings, progress).apply(graph, release=release)
    production = coordinator.apply(
        graph, release=release, expect=rehearsal.applied if rehearsal else None
    )
    return AllModulesResult(production=production, staging=rehearsal)


def rollback(
    conninfo: str,
    graph: MigrationGraph,
    dbmap: DatabaseMap,
    target: str,
    *,
    settings: SessionSettings | None = None,
    progress: Progress | None = None,
) -> RunReport:
    """``migrate rollback --to <release>``."""
    return rollback_to(Coordinator(conninfo, dbmap, settings, progress), graph, target)


def map_drift(conninfo: str, dbmap: DatabaseMap) -> list[Difference]:
    """``migrate map --from-db``: where the live database differs from the map."""
    with open_session(conninfo, SessionSettings()) as conn:
        return database_drift(conn, dbmap)
