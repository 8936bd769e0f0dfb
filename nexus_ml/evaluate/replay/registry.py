"""Every replay policy by name: the references and ``nexus``, the served decision path."""

from __future__ import annotations

from collections.abc import Callable

from nexus_ml.errors import InputError
from nexus_ml.evaluate.replay.nexus_policy import ChampionTrainer, NexusPolicy
from nexus_ml.evaluate.replay.observation import Policy
from nexus_ml.evaluate.replay.policies import CraneEhpa, Hpa, Oracle, SeedRule, StaticPeak

POLICIES: dict[str, Callable[[], Policy]] = {
    "static_peak": StaticPeak,
    "hpa": Hpa,
    "seed_rule": SeedRule,
    "crane_ehpa": CraneEhpa,
    "oracle": Oracle,
}


def make_policy(name: str, *, champion_trainer: ChampionTrainer | None = None) -> Policy:
    """A reference policy by name, or ``nexus`` (the served path, which needs the trainer)."""
    if name == "nexus":
        if champion_trainer is None:
            raise InputError("the nexus policy needs a champion trainer (the training pipeline)")
        return NexusPolicy(champion_trainer)
    try:
        return POLICIES[name]()
    except KeyError:
        known = ", ".join([*POLICIES, "nexus"])
        raise InputError(f"unknown policy {name!r}; known: {known}", policy=name) from None
