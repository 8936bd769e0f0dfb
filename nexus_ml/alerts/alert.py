"""The alert the operators receive: the seed's message shape, as data."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from nexus_ml.domain.base import Frozen


class Alert(Frozen):
    """What the operators need to know: the seed's message shape."""

    module: str
    container: str = ""
    problem: str  # a key such as "degradation", "surge", "service_down", rendered per language
    problem_detail: str = ""  # the problem with its value and how long ("CPU em 95% há 10min")
    severity: Literal["info", "warning", "critical"] = "warning"
    action_taken: str = ""
    acted: bool = False  # an action was applied (a message saying so is never held back)
    impact: str = ""
    key_metrics: dict[str, float] = Field(default_factory=dict)
    normal_metrics: dict[str, float] = Field(default_factory=dict)
    probable_cause: str = ""
    next_action: str = ""
    dashboard_url: str = ""
