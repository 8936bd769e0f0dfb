"""Collection plans: for each :class:`~nexus_ml.domain.crisis.ErrorType`, what to keep and how long.

A plan names the metric fields to keep (the first ones are the report's key metrics), how much
history before the incident and after its end, which extra evidence to gather and the retention
period. The bundled ``collection.yaml`` holds one plan per error type; a YAML of the same shape
overrides some of them (field by field), so operators can keep corruption data for two years
without restating every other plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from nexus_ml.config_files import read_yaml, validated
from nexus_ml.domain.base import Frozen
from nexus_ml.domain.crisis import ErrorType
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import ConfigError, InputError

BUNDLED_PLANS = Path(__file__).with_name("collection.yaml")


class EvidenceKind(StrEnum):
    AUDIT = "audit"  # the executor's decisions and actions on the module
    DEPLOY_VERSIONS = "deploy_versions"  # image/version changes seen in the trail
    DEPENDENCIES = "dependencies"  # catalog links, and the metrics of the modules it calls
    CONTAINER_LOGS = "container_logs"  # placeholder: no log backend is wired in yet


class CollectionPlan(Frozen):
    """What to collect for one error type."""

    before_min: int = Field(ge=0, le=30 * 1440)
    after_min: int = Field(ge=0, le=7 * 1440)
    step_s: int = Field(60, ge=1, le=3600)
    metrics: tuple[str, ...] = Field(min_length=1)
    evidence: tuple[EvidenceKind, ...] = ()
    retention_days: int = Field(ge=1, le=3650)
    #: The same window this many days earlier is kept as the seasonal reference ("normal" at
    #: the same hour and weekday); 0 keeps none and "normal" is the time before the incident.
    reference_days: int = Field(7, ge=0, le=28)

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in value if m not in METRIC_FIELDS]
        if unknown:
            raise ValueError(f"unknown metric {unknown[0]!r}; known: {', '.join(METRIC_FIELDS)}")
        if len(set(value)) != len(value):
            raise ValueError(f"duplicate metric in {list(value)}")
        return value

    @property
    def before(self) -> timedelta:
        return timedelta(minutes=self.before_min)

    @property
    def after(self) -> timedelta:
        return timedelta(minutes=self.after_min)

    @property
    def step(self) -> timedelta:
        return timedelta(seconds=self.step_s)

    def key_metrics(self, n: int = 3) -> tuple[str, ...]:
        """The first ``n`` metrics: the ones the report compares at peak and baseline."""
        return self.metrics[:n]


class CollectionPlans(Frozen):
    """One plan per error type (every type must have one)."""

    plans: dict[ErrorType, CollectionPlan]

    @field_validator("plans")
    @classmethod
    def _every_type(cls, value: dict[ErrorType, CollectionPlan]) -> dict[ErrorType, CollectionPlan]:
        missing = [t.value for t in ErrorType if t not in value]
        if missing:
            raise ValueError(f"no plan for error type(s) {', '.join(missing)}")
        return value

    def for_type(self, error_type: ErrorType) -> CollectionPlan:
        return self.plans[error_type]


@dataclass(frozen=True)
class Window:
    """The metric window of one incident: ``[start, end]`` on a ``step`` grid."""

    start: datetime
    end: datetime
    step: timedelta


def collection_window(
    plan: CollectionPlan, started_at: datetime, ended_at: datetime | None, now: datetime
) -> Window:
    """The window to collect: ``before`` the start to ``after`` the end, never past ``now``.

    An open incident (``ended_at`` is ``None``) is collected up to ``now``.

    Raises
    ------
    InputError
        When the incident starts in the future or ends before it starts.
    """
    if started_at > now:
        raise InputError(f"incident start {started_at.isoformat()} is in the future")
    if ended_at is not None and ended_at < started_at:
        raise InputError(
            f"incident end {ended_at.isoformat()} is before its start {started_at.isoformat()}"
        )
    end = now if ended_at is None else min(now, ended_at + plan.after)
    return Window(start=started_at - plan.before, end=end, step=plan.step)


def parse_error_type(text: str) -> ErrorType:
    """An :class:`ErrorType` from its name, case-insensitive (``memory_leak`` works too).

    Raises
    ------
    InputError
        Quoting the bad value and listing the known types.
    """
    try:
        return ErrorType(text.strip().upper())
    except ValueError:
        known = ", ".join(t.value for t in ErrorType)
        raise InputError(f"unknown error type {text!r}; known: {known}") from None


def _merge(base: Mapping[str, Any], override: Any, path: Path) -> dict[str, Any]:
    if not isinstance(override, dict) or not isinstance(override.get("plans"), dict):
        raise ConfigError(f"{path}: expected a mapping with a 'plans' key", source=str(path))
    merged = {k: dict(v) for k, v in base["plans"].items()}
    for name, fields in override["plans"].items():
        if str(name) not in merged:
            known = ", ".join(t.value for t in ErrorType)
            raise ConfigError(
                f"{path}: plans: unknown error type {name!r}; known: {known}",
                source=str(path),
                field="plans",
                value=name,
            )
        if not isinstance(fields, dict):
            raise ConfigError(
                f"{path}: plans.{name}: expected a mapping, got {fields!r}", source=str(path)
            )
        merged[str(name)].update(fields)
    return {"plans": merged}


def load_collection_plans(override: Path | None = None) -> CollectionPlans:
    """The bundled plans, with the plans (or single fields) of ``override`` on top.

    Raises
    ------
    ConfigError
        Naming the file, the field path and the bad value.
    """
    data = read_yaml(BUNDLED_PLANS, "plans")
    source = BUNDLED_PLANS
    if override is not None:
        data = _merge(data, read_yaml(override, "plans"), override)
        source = override
    return validated(CollectionPlans, data, source)
