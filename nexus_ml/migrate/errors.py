"""The coordinator's errors: bad input (exit 2), failed or drifted migrations (exit 6), lock (7).

Each carries structured attributes (the file, the migration, the statement) so the CLI can print
one line and tests can assert on fields instead of parsing messages.
"""

from __future__ import annotations

from pathlib import Path

from nexus_ml.errors import InputError, LockError, MigrationError


class MigrationInputError(InputError):
    """A migration file or the set of files is invalid; nothing was applied."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}", path=str(path), problem=problem)
        self.path = str(path)
        self.problem = problem


class ParseError(MigrationInputError):
    """A migration file does not follow the format (sections, directives, file name)."""

    def __init__(self, path: Path | str, problem: str, *, line: int | None = None) -> None:
        super().__init__(f"{path}:{line}" if line else path, problem)
        self.line = line


class DuplicateMigrationError(MigrationInputError):
    """Two files of one module carry the same number."""

    def __init__(self, path: Path | str, module: str, number: str, other: Path | str) -> None:
        super().__init__(
            path, f"duplicate number {number} in module {module!r} (also {Path(other).name})"
        )
        self.module = module
        self.number = number
        self.other = str(other)


class UnknownDependencyError(MigrationInputError):
    """A migration depends on ``module:NNNN`` that no file defines."""

    def __init__(self, path: Path | str, dependency: str) -> None:
        super().__init__(path, f"depends on unknown migration {dependency!r}")
        self.dependency = dependency


class CycleError(MigrationInputError):
    """The migrations depend on each other in a circle; the message suggests where to split."""

    def __init__(self, path: Path | str, cycle: tuple[str, ...], suggestion: str) -> None:
        loop = " -> ".join((*cycle, cycle[0]))
        super().__init__(path, f"dependency cycle {loop}; {suggestion}")
        self.cycle = cycle
        self.suggestion = suggestion


class UnknownMigrationError(MigrationInputError):
    """A named migration or release (CLI argument) does not exist."""


class DriftError(MigrationError):
    """An applied migration's file changed (or vanished) since it was applied."""

    def __init__(self, key: str, path: str, recorded: str, current: str) -> None:
        what = "file is missing" if not current else f"checksum now {current[:12]}"
        super().__init__(
            f"{path or key}: migration {key} was applied with checksum {recorded[:12]} but the "
            f"{what}; applied migrations must not be edited (write a new migration)",
            key=key,
            path=path,
            recorded=recorded,
            current=current,
        )
        self.key = key
        self.path = path
        self.recorded = recorded
        self.current = current


class SchemaDrift(MigrationError):
    """The live database differs from the database map."""

    def __init__(self, database: str, count: int, first: str) -> None:
        super().__init__(
            f"database {database} differs from the map in {count} place(s), first: {first}",
            database=database,
            count=count,
        )
        self.count = count


class StepFailed(MigrationError):
    """A statement, verify part or integrity check failed; the whole plan was rolled back."""

    def __init__(
        self,
        *,
        module: str,
        migration: str,
        phase: str,
        statement: str,
        cause: str,
        location: str = "",
    ) -> None:
        stmt = " ".join(statement.split())
        stmt = stmt if len(stmt) <= 120 else stmt[:117] + "..."
        where = f"{location} " if location else ""
        super().__init__(
            f"{phase} of {migration} (module {module}) failed at {where}`{stmt}`: {cause}; "
            "everything was rolled back",
            module=module,
            migration=migration,
            phase=phase,
            statement=statement,
            cause=cause,
            location=location,
        )
        self.location = location
        self.module = module
        self.migration = migration
        self.phase = phase
        self.statement = statement
        self.cause = cause


class LintFailed(MigrationError):
    """Dangerous operations were found and not acknowledged with ``-- migrate:lint-ignore``."""

    def __init__(self, count: int, first: str) -> None:
        super().__init__(f"{count} lint finding(s), first: {first}", count=count, first=first)
        self.count = count


class LockTimeout(LockError):
    """Another coordinator held the migration lock for longer than the wait allowed."""

    def __init__(self, database: str, waited_s: float, holder: str = "") -> None:
        who = f" (held by {holder})" if holder else ""
        super().__init__(
            f"another coordinator holds the migration lock on database {database!r}{who}; "
            f"gave up after {waited_s:.1f} s",
            database=database,
            waited_s=waited_s,
        )
        self.database = database
        self.waited_s = waited_s
