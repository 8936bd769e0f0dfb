"""The seed's crisis-data rules as data: per error type what to collect and what to ignore, per
data category its retention and sampling, per error type its storage limit and severity.

The bundled ``rules.yaml`` carries the seed's values; a YAML of the same shape overrides error
types and categories field by field. Every problem is a :class:`~nexus_ml.errors.ConfigError`
naming the file, the field path and the bad value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from nexus_ml.config_files import read_yaml, validated
from nexus_ml.domain.base import Frozen
from nexus_ml.domain.crisis import ErrorType
from nexus_ml.errors import ConfigError, InputError

BUNDLED_RULES = Path(__file__).with_name("rules.yaml")
_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,63}$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


class Sampling(StrEnum):
    ALL_FAILED = "all_failed"  # every failed row (every failed transaction)
    UNIQUE = "unique"  # one row per distinct key (customer ids, stack traces)
    SMART = "smart"  # every outlier plus an even spread of the rest
    FAILED_ONLY = "failed_only"  # only the failed calls
    ALL = "all"  # every row, up to max_rows


class Severity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        return ("LOW", "MEDIUM", "HIGH", "CRITICAL").index(self.value)


class CategoryRule(Frozen):
    """How one kind of data is sampled during a crisis and how long it is kept."""

    retention_days: int = Field(ge=1, le=3650)
    sampling: Sampling
    key: str | None = None
    max_rows: int = Field(10_000, ge=1, le=10_000_000)

    @model_validator(mode="after")
    def _unique_needs_key(self) -> CategoryRule:
        if self.sampling is Sampling.UNIQUE and not self.key:
            raise ValueError("sampling 'unique' needs a key (the field that makes a row unique)")
        return self


class ErrorTypeRule(Frozen):
    """What one kind of crisis collects, ignores, may store, and how severe it is."""

    plan: ErrorType
    severity: Severity
    storage_limit_mb: float = Field(gt=0, le=100_000)
    collect: tuple[str, ...] = Field(min_length=1)
    ignore: tuple[str, ...] = ()

    @property
    def storage_limit_bytes(self) -> int:
        return int(self.storage_limit_mb * 1024 * 1024)


class CrisisRules(Frozen):
    """Every category and every error type's rule."""

    categories: dict[str, CategoryRule] = Field(min_length=1)
    error_types: dict[str, ErrorTypeRule] = Field(min_length=1)

    @field_validator("categories")
    @classmethod
    def _category_names(cls, value: dict[str, CategoryRule]) -> dict[str, CategoryRule]:
        for name in value:
            if not _CATEGORY.match(name):
                raise ValueError(f"category name must be snake_case, got {name!r}")
        return value

    @field_validator("error_types")
    @classmethod
    def _type_names(cls, value: dict[str, ErrorTypeRule]) -> dict[str, ErrorTypeRule]:
        for name in value:
            if not _NAME.match(name):
                raise ValueError(f"error type must be UPPER_SNAKE_CASE, got {name!r}")
        return value

    @model_validator(mode="after")
    def _categories_known_and_split(self) -> CrisisRules:
        known = set(self.categories)
        for name, rule in self.error_types.items():
            for field in ("collect", "ignore"):
                for category in getattr(rule, field):
                    if category not in known:
                        raise ValueError(
                            f"error_types.{name}.{field}: unknown category {category!r}; "
                            f"known: {', '.join(sorted(known))}"
                        )
            both = set(rule.collect) & set(rule.ignore)
            if both:
                raise ValueError(
                    f"error_types.{name}: {sorted(both)[0]!r} is both collected and ignored"
                )
            missing = known - set(rule.collect) - set(rule.ignore)
            if missing:
                raise ValueError(
                    f"error_types.{name}: category {sorted(missing)[0]!r} is neither collected "
                    "nor ignored (say which)"
                )
        return self

    def for_type(self, name: str) -> ErrorTypeRule:
        """The rule of error type ``name`` (case-insensitive).

        Raises
        ------
        InputError
            Quoting the name and listing the known types.
        """
        key = name.strip().upper()
        if key not in self.error_types:
            known = ", ".join(self.error_types)
            raise InputError(f"unknown error type {name!r}; known: {known}")
        return self.error_types[key]

    def retention_days(self, category: str) -> int:
        return self.categories[category].retention_days


def _merge(base: Mapping[str, Any], override: Any, path: Path) -> dict[str, Any]:
    if not isinstance(override, dict) or not set(override) <= {"categories", "error_types"}:
        raise ConfigError(
            f"{path}: expected a mapping with 'categories' and/or 'error_types', got "
            f"{override if not isinstance(override, dict) else sorted(override)!r}",
            source=str(path),
        )
    merged: dict[str, Any] = {k: {n: dict(v) for n, v in base[k].items()} for k in base}
    for section in ("categories", "error_types"):
        given = override.get(section) or {}
        if not isinstance(given, dict):
            raise ConfigError(f"{path}: {section}: expected a mapping, got {given!r}")
        for name, fields in given.items():
            if not isinstance(fields, dict):
                raise ConfigError(
                    f"{path}: {section}.{name}: expected a mapping, got {fields!r}",
                    source=str(path),
                    field=f"{section}.{name}",
                    value=fields,
                )
            merged[section].setdefault(str(name), {}).update(fields)
    return merged


def load_rules(override: Path | None = None) -> CrisisRules:
    """The bundled rules with ``override`` on top.

    Raises
    ------
    ConfigError
        Naming the file, the field path (``error_types.PAYMENT_FAILURE.severity``) and the value.
    """
    data = read_yaml(BUNDLED_RULES, "rules")
    source = BUNDLED_RULES
    if override is not None:
        data = _merge(data, read_yaml(override, "rules"), override)
        source = override
    return validated(CrisisRules, data, source)
