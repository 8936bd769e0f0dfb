"""Rollback analysis: which scope of the system to roll back after a failed release."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from nexus_ml.domain.base import Frozen


class RollbackScope(StrEnum):
    MODULE_ONLY = "MODULE_ONLY"
    DEPENDENCY_CHAIN = "DEPENDENCY_CHAIN"
    FULL_SYSTEM = "FULL_SYSTEM"


class RollbackAnalysis(Frozen):
    failed_module: str
    error_type: str
    current_version: str = ""
    last_stable_version: str = ""
    affected_integrations: tuple[str, ...] = ()
    minimum_scope: RollbackScope
    estimated_downtime_s: float = Field(ge=0)
    risk: float = Field(ge=0.0, le=1.0)


class RollbackDecision(Frozen):
    scope: RollbackScope
    modules: tuple[str, ...] = Field(description="Modules to roll back, in execution order")
    reason: str
    confidence: float = Field(ge=0.0, le=1.0)
