"""Crisis data and incident reports."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from nexus_ml.domain.base import Frozen


class ErrorType(StrEnum):
    UI_BUG = "UI_BUG"
    API_BREAKING = "API_BREAKING"
    DATABASE_CORRUPTION = "DATABASE_CORRUPTION"
    PERFORMANCE_DEGRADATION = "PERFORMANCE_DEGRADATION"
    MEMORY_LEAK = "MEMORY_LEAK"
    ERROR_BURST = "ERROR_BURST"
    SLOW_DEPENDENCY = "SLOW_DEPENDENCY"
    CRASH = "CRASH"


class CrisisReport(Frozen):
    module: str
    error_type: ErrorType
    started_at: datetime
    ended_at: datetime | None = None
    summary: str
    actions_taken: tuple[str, ...] = ()
    impact: str = ""
    probable_cause: str = ""
    next_steps: tuple[str, ...] = ()
    key_metrics: dict[str, float] = Field(default_factory=dict)
    retention_days: int = Field(30, ge=1, le=3650)
