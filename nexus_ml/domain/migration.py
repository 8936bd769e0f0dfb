"""Database changes and migration plans of the coordinator."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from nexus_ml.domain.base import Frozen


class ChangeType(StrEnum):
    ADD_COLUMN = "ADD_COLUMN"
    REMOVE_COLUMN = "REMOVE_COLUMN"
    ADD_TABLE = "ADD_TABLE"
    ADD_CONSTRAINT = "ADD_CONSTRAINT"
    ALTER_COLUMN = "ALTER_COLUMN"
    REMOVE_TABLE = "REMOVE_TABLE"


class DatabaseChange(Frozen):
    module: str
    schema_name: str
    table: str
    column: str | None = None
    change_type: ChangeType
    detail: str = ""


class MigrationStep(Frozen):
    module: str
    number: str = Field(pattern=r"^\d{4}$")
    name: str
    depends_on: tuple[str, ...] = ()
    transactional: bool = True
    checksum: str = ""


class MigrationPlan(Frozen):
    steps: tuple[MigrationStep, ...]
    changes: tuple[DatabaseChange, ...] = ()
    modules_in_order: tuple[str, ...] = ()
