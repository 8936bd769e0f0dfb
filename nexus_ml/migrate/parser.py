"""Migration files: ``migrations/<module>/NNNN_name.sql`` with up, verify and down parts.

Format (directives are SQL comments, so every file stays valid SQL)::

    -- migrate:depends crm:0001, user_management:0001
    -- migrate:transactional false        (optional: run outside the plan's transaction)
    -- migrate:lint-ignore index-without-concurrently   (optional: acknowledged lint rules)
    -- migrate:allow-not-valid orders_customer_fk  (optional: may stay NOT VALID for now)
    -- migrate:up
    ALTER TABLE ...;
    -- migrate:verify                     (optional: statements that must return true)
    SELECT ...;
    -- migrate:down
    ALTER TABLE ...;

A migration implicitly depends on the previous number of its own module.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from nexus_ml.domain.migration import MigrationStep
from nexus_ml.migrate.errors import DuplicateMigrationError, ParseError
from nexus_ml.migrate.sqlsplit import Statement, split_statements

FILE_NAME = re.compile(r"^(?P<number>\d{4})_(?P<name>[a-z0-9][a-z0-9_]*)\.sql$")
MODULE_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
DEPENDENCY = re.compile(r"^(?P<module>[a-z_][a-z0-9_]*):(?P<number>\d{4})$")
_DIRECTIVE = re.compile(r"^--\s*migrate:(?P<word>[a-z-]+)\b\s*(?P<value>.*?)\s*$")
_SECTIONS = ("up", "verify", "down")
_HEADER = ("depends", "transactional", "lint-ignore", "allow-not-valid")


@dataclass(frozen=True)
class Migration:
    """One parsed migration file (pure data: no database, no file handle)."""

    module: str
    number: str
    name: str
    up: tuple[Statement, ...]
    verify: tuple[Statement, ...] = ()
    down: tuple[Statement, ...] = ()
    depends_on: tuple[str, ...] = ()
    transactional: bool = True
    lint_ignore: frozenset[str] = field(default_factory=frozenset)
    allow_not_valid: frozenset[str] = field(default_factory=frozenset)
    path: str = ""
    checksum: str = ""

    @property
    def key(self) -> str:
        """``module:NNNN``, the name used in dependencies and in the history table."""
        return f"{self.module}:{self.number}"

    @property
    def step(self) -> MigrationStep:
        """The domain view of this migration."""
        return MigrationStep(
            module=self.module,
            number=self.number,
            name=self.name,
            depends_on=self.depends_on,
            transactional=self.transactional,
            checksum=self.checksum,
        )


def checksum_of(text: str) -> str:
    """sha256 of the file text: what the history table records to detect edits.

    Line endings do not count: files are read with CRLF and CR turned into LF
    (:func:`read_migration_text`), so a checkout that rewrites them (``core.autocrlf``) is not
    drift. That is safe because the coordinator executes that same normalised text: the SQL
    sent to PostgreSQL is byte for byte what the checksum covers, whatever the file's endings.
    """
    return hashlib.sha256(text.encode()).hexdigest()


def read_migration_text(path: Path) -> str:
    """The UTF-8 text of a migration file with line endings normalised to LF.

    Raises
    ------
    ParseError
        The file is not UTF-8 (its path and the offending byte's offset).
    """
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(path, f"not UTF-8 text (byte at offset {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_migration(module: str, file_name: str, text: str, *, path: str = "") -> Migration:
    """Parse one migration file's text.

    Raises
    ------
    ParseError
        The file name, a directive or the sections are malformed (message names file and line).
    """
    where = path or f"{module}/{file_name}"
    if not MODULE_NAME.match(module):
        raise ParseError(where, f"module directory {module!r} is not a schema-style name")
    m = FILE_NAME.match(file_name)
    if not m:
        raise ParseError(where, f"file name {file_name!r} is not NNNN_name.sql")
    header: dict[str, str] = {}
    bodies: dict[str, list[str]] = {}
    starts: dict[str, int] = {}
    current: str | None = None
    for lineno, line in enumerate(text.splitlines(), start=1):
        d = _DIRECTIVE.match(line.strip())
        if d is None:
            if current is not None:
                bodies[current].append(line)
            elif line.strip() and not line.strip().startswith("--"):
                raise ParseError(where, "SQL before the `-- migrate:up` section", line=lineno)
            continue
        word, value = d.group("word"), d.group("value")
        if word in _SECTIONS:
            if word in bodies:
                raise ParseError(where, f"section {word!r} appears twice", line=lineno)
            if (word == "up" and bodies) or (word != "up" and "up" not in bodies):
                raise ParseError(where, f"section {word!r} out of order (up first)", line=lineno)
            current = word
            bodies[word] = []
            starts[word] = lineno + 1
        elif word in _HEADER:
            if current is not None:
                raise ParseError(where, f"directive {word!r} after the up section", line=lineno)
            header[word] = value
        else:
            raise ParseError(where, f"unknown directive 'migrate:{word}'", line=lineno)
    if "up" not in bodies:
        raise ParseError(where, "no `-- migrate:up` section")
    parts = {
        s: tuple(split_statements("\n".join(bodies[s]), first_line=starts[s], path=where))
        for s in bodies
    }
    if not parts["up"]:
        raise ParseError(where, "the up section has no statement", line=starts["up"] - 1)
    return Migration(
        module=module,
        number=m.group("number"),
        name=m.group("name"),
        up=parts["up"],
        verify=parts.get("verify", ()),
        down=parts.get("down", ()),
        depends_on=_dependencies(where, header.get("depends", "")),
        transactional=_flag(where, header.get("transactional", "true")),
        lint_ignore=_names(header.get("lint-ignore", "")),
        allow_not_valid=_names(header.get("allow-not-valid", "")),
        path=where,
        checksum=checksum_of(text),
    )


def load_migrations(root: Path) -> list[Migration]:
    """Every ``<module>/NNNN_name.sql`` under ``root``, parsed; duplicates refused.

    Raises
    ------
    ParseError, DuplicateMigrationError
        With the offending file's path.
    """
    if not root.is_dir():
        raise ParseError(root, "migrations directory does not exist")
    found: dict[tuple[str, str], Migration] = {}
    for path in sorted(root.glob("*/*.sql")):
        text = read_migration_text(path)
        migration = parse_migration(path.parent.name, path.name, text, path=str(path))
        previous = found.get((migration.module, migration.number))
        if previous is not None:
            raise DuplicateMigrationError(path, migration.module, migration.number, previous.path)
        found[(migration.module, migration.number)] = migration
    return list(found.values())


def _dependencies(where: str, value: str) -> tuple[str, ...]:
    deps = tuple(v.strip() for v in value.split(",") if v.strip())
    for dep in deps:
        if not DEPENDENCY.match(dep):
            raise ParseError(where, f"dependency {dep!r} is not module:NNNN")
    return deps


def _names(value: str) -> frozenset[str]:
    return frozenset(v.strip() for v in value.split(",") if v.strip())


def _flag(where: str, value: str) -> bool:
    if value.lower() in ("true", "yes"):
        return True
    if value.lower() in ("false", "no"):
        return False
    raise ParseError(where, f"transactional must be true or false, got {value!r}")
