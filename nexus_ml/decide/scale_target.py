"""The replica target of a decision, with its confidence and evidence (pure, no I/O).

From the scaling strategy when a champion decides (:func:`strategy_scaling`, see
:mod:`nexus_ml.decide.strategy`), else from the seed's rules (:func:`rules_scaling`).
:mod:`nexus_ml.decide.policy` weighs it against the other rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from nexus_ml.catalog import ModuleProfile
from nexus_ml.decide.rules import rules_recommendation
from nexus_ml.decide.strategy import ScaleProposal
from nexus_ml.decide.window import MetricWindow
from nexus_ml.domain import Evidence


@dataclass(frozen=True)
class ScaleTarget:
    """A replica target with its confidence and the evidence behind it."""

    target: int
    confidence: float
    evidence: tuple[Evidence, ...]


def strategy_scaling(proposal: ScaleProposal) -> ScaleTarget:
    """The scaling strategy's proposal as a scale target."""
    return ScaleTarget(proposal.target, proposal.confidence, proposal.evidence)


def rules_scaling(
    profile: ModuleProfile, window: MetricWindow, current: int, since_change_min: float
) -> ScaleTarget:
    """The seed's trigger rule on the module's trigger metric."""
    trigger = window.field(profile.scale_trigger.metric)
    rec = rules_recommendation(profile, trigger, current, since_change_min)
    evidence = tuple(Evidence(kind="rule", detail=r) for r in rec.reasons)
    return ScaleTarget(rec.target, rec.confidence, evidence)
