"""A decision of the policy: what to do with one module, how sure, and why."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import Field, model_validator

from nexus_ml.domain.base import Frozen
from nexus_ml.domain.rollback import RollbackScope


class Action(StrEnum):
    HOLD = "hold"
    SCALE_UP = "scale_up"
    SCALE_DOWN = "scale_down"
    RESTART = "restart"
    ROLLBACK = "rollback"
    ALERT = "alert"


class Evidence(Frozen):
    """One piece of evidence behind a decision, for humans and audits."""

    kind: str = Field(description="e.g. forecast_peak, anomaly, guard, freshness, rule")
    detail: str
    value: float | None = None


class Decision(Frozen):
    """What to do with one module now.

    ``action`` is the primary action; the boolean flags mirror the seed's shape so that
    consumers can read several recommendations at once (a restart that also alerts).
    """

    module: str = Field(min_length=1, max_length=100)
    action: Action = Action.HOLD
    current_replicas: int = Field(ge=0, le=1000)
    target_replicas: int = Field(ge=0, le=1000)
    scale_up: bool = False
    scale_down: bool = False
    restart: bool = False
    rollback: bool = False
    rollback_scope: RollbackScope | None = None
    alert_admin: bool = False
    reason: str = ""
    confidence: float = Field(ge=0.0, le=1.0)
    explanation: tuple[Evidence, ...] = ()
    policy: Literal["model", "rules"] = "rules"
    model_versions: dict[str, str] = Field(default_factory=dict)
    decided_at: datetime | None = None
    stale_input: bool = False

    @model_validator(mode="after")
    def _flags_agree_with_action(self) -> Decision:
        if self.scale_up and self.scale_down:
            raise ValueError("scale_up and scale_down cannot both be true")
        if self.action is Action.SCALE_UP and self.target_replicas <= self.current_replicas:
            raise ValueError(
                f"scale_up needs target_replicas > current_replicas, got "
                f"{self.target_replicas} <= {self.current_replicas}"
            )
        if self.action is Action.SCALE_DOWN and self.target_replicas >= self.current_replicas:
            raise ValueError(
                f"scale_down needs target_replicas < current_replicas, got "
                f"{self.target_replicas} >= {self.current_replicas}"
            )
        return self
