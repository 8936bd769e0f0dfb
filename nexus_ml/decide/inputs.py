"""What one decision reads, and the policy's settings (see :mod:`nexus_ml.decide.policy`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from nexus_ml.catalog import Catalog, ModuleProfile
from nexus_ml.decide import canary as canary_judge
from nexus_ml.decide.health import HealthThresholds
from nexus_ml.decide.links import LinkLatency
from nexus_ml.decide.observed import RecentAction, last_change_at
from nexus_ml.decide.strategy import ScaleProposal
from nexus_ml.decide.window import MetricWindow


class ScaleProposer(Protocol):
    """The scaling strategy as the policy sees it (see :mod:`nexus_ml.decide.strategy`)."""

    def propose(self, current: int) -> ScaleProposal: ...


@dataclass(frozen=True)
class PolicyConfig:
    max_age_s: float = 180.0  # newest observation older than this: stale
    # a scale-down's wait after a scale-up, restart or rollback (not after a scale-down)
    scale_down_cooldown_s: float = 300.0
    scale_up_cooldown_s: float = 0.0
    slow_link_ms: float = 500.0
    health: HealthThresholds = field(default_factory=HealthThresholds)
    canary: canary_judge.CanaryConfig = field(default_factory=canary_judge.CanaryConfig)


@dataclass(frozen=True)
class DecisionInputs:
    """Everything one decision reads; nothing else (the policy keeps no memory).

    ``current_replicas`` is what the executor observed in the cluster (None: the window's
    replica count, then the catalog minimum); ``recent_actions`` what it applied lately (its
    audit trail). ``strategy`` is the module's scaling strategy, already fed the window
    (None: no champion, the seed's rules decide).
    """

    profile: ModuleProfile
    window: MetricWindow
    now: datetime
    current_replicas: int | None = None
    strategy: ScaleProposer | None = None
    anomaly: Mapping[str, float] | None = None  # per-field scores and "combined", newest minute
    model_versions: Mapping[str, str] = field(default_factory=dict)
    link_latencies: Sequence[LinkLatency] | None = None
    deployed_at: datetime | None = None  # a recent deploy: judge it against the minutes before
    catalog: Catalog | None = None  # for the rollback scope of a failed deploy
    recent_actions: Sequence[RecentAction] = ()
    current_version: str = ""  # the release running (the image), for the rollback analysis
    last_stable_version: str = ""  # the release it replaced: where a rollback returns
    # the other modules' windows: a failed release that also breaks its neighbours widens
    # the rollback to them (judged like the module itself, at the module's deploy time)
    other_windows: Mapping[str, MetricWindow] = field(default_factory=dict)


def observed_replicas(inputs: DecisionInputs) -> int:
    """The replicas running now: the executor's observation, the window's, or the minimum."""
    if inputs.current_replicas is not None:
        return inputs.current_replicas
    seen = inputs.window.last_replicas()
    return seen if seen is not None else inputs.profile.min_replicas


def seconds_since_change(inputs: DecisionInputs, *, scale_downs: bool = True) -> float | None:
    """Seconds since the module last changed (see :func:`~nexus_ml.decide.observed.last_change_at`;
    None: no change seen)."""
    changed = last_change_at(inputs.window, inputs.recent_actions, scale_downs=scale_downs)
    return None if changed is None else (inputs.now - changed).total_seconds()
