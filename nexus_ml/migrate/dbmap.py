"""The database map: modules -> schemas -> tables (columns) and cross-module references.

Machine-readable (YAML, bundled as ``dbmap.yaml``) and validated on load: every reference must
point at a table and column the map knows. The impact analysis, the lint rule about dropped
columns and the orphan checks of the coordinator all read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, PrivateAttr, ValidationError, model_validator

from nexus_ml import safe_yaml
from nexus_ml.domain.base import Frozen
from nexus_ml.errors import ConfigError

BUNDLED_MAP = Path(__file__).with_name("dbmap.yaml")


class ModuleSchema(Frozen):
    """One module's schema: its tables (column -> type) and views."""

    module: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    catalog: str | None = None
    schema_name: str = Field(alias="schema", pattern=r"^[a-z_][a-z0-9_]*$")
    tables: dict[str, dict[str, str]] = Field(default_factory=dict)
    views: tuple[str, ...] = ()

    model_config = Frozen.model_config | {"populate_by_name": True}


class Reference(Frozen):
    """``from`` uses ``to``: a foreign key, a view over a column, or a declared usage.

    ``from`` is ``schema.table.column`` (foreign key), ``schema.view`` (view) or a module name
    (usage); ``to`` is always ``schema.table.column``.
    """

    kind: Literal["foreign_key", "view", "usage"]
    source: str = Field(alias="from")
    to: str = Field(pattern=r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
    note: str = ""

    model_config = Frozen.model_config | {"populate_by_name": True}

    @property
    def target(self) -> tuple[str, str, str]:
        """``(schema, table, column)`` used."""
        schema, table, column = self.to.split(".")
        return schema, table, column


class DatabaseMap(Frozen):
    """The whole map, with lookups by schema and by what is used."""

    modules: tuple[ModuleSchema, ...] = Field(min_length=1)
    references: tuple[Reference, ...] = ()
    _by_schema: dict[str, ModuleSchema] = PrivateAttr(default_factory=dict)
    _by_table: dict[tuple[str, str], list[Reference]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object, /) -> None:
        # Indexes for the lookups that lint and impact make per statement.
        self._by_schema = {m.schema_name: m for m in self.modules}
        for ref in self.references:
            self._by_table.setdefault(ref.target[:2], []).append(ref)

    @model_validator(mode="after")
    def _references_resolve(self) -> DatabaseMap:
        for i, ref in enumerate(self.references):
            schema, table, column = ref.target
            if column not in self.columns(schema, table):
                raise ValueError(f"references.{i}.to: {ref.to!r} is not a column of the map")
            if ref.kind == "foreign_key":
                s, t, c = [*ref.source.split("."), "", "", ""][:3]
                if c not in self.columns(s, t):
                    raise ValueError(f"references.{i}.from: {ref.source!r} is not a column")
            elif ref.kind == "view":
                s, _, v = ref.source.partition(".")
                if v not in self.module_schema(s).views:
                    raise ValueError(f"references.{i}.from: {ref.source!r} is not a view")
            elif ref.source not in {m.module for m in self.modules}:
                raise ValueError(f"references.{i}.from: {ref.source!r} is not a module")
        return self

    @property
    def schemas(self) -> tuple[str, ...]:
        return tuple(m.schema_name for m in self.modules)

    def module_schema(self, name: str) -> ModuleSchema:
        """The module owning schema ``name`` (a module without tables if unknown)."""
        found = self._by_schema.get(name)
        return found if found is not None else ModuleSchema(module=name, schema=name)

    def columns(self, schema: str, table: str) -> dict[str, str]:
        return self.module_schema(schema).tables.get(table, {})

    def module_of(self, reference: Reference) -> str:
        """The module that uses something through ``reference``."""
        if reference.kind == "usage":
            return reference.source
        return self.module_schema(reference.source.split(".")[0]).module

    def users_of(self, schema: str, table: str, column: str | None = None) -> list[Reference]:
        """References from *other* modules to ``schema.table`` (one column, or any)."""
        owner = self.module_schema(schema).module
        return [
            ref
            for ref in self._by_table.get((schema, table), [])
            if (column is None or ref.target[2] == column) and self.module_of(ref) != owner
        ]


def load_map(path: Path | None = None) -> DatabaseMap:
    """Read and validate a database map (the bundled one by default).

    Raises
    ------
    ConfigError
        The file is missing, not YAML, or fails validation (the field is named).
    """
    path = path or BUNDLED_MAP
    try:
        raw = safe_yaml.load_text(safe_yaml.read_text(path))
    except OSError as exc:
        raise ConfigError(
            f"cannot read database map {path}: {exc.strerror}", source=str(path)
        ) from exc
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"{path}: {safe_yaml.describe(exc)}", source=str(path)) from exc
    try:
        return DatabaseMap.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise ConfigError(
            f"{path}: {field}: {err['msg']}",
            source=str(path),
            field=field,
            value=err.get("input"),
        ) from exc
