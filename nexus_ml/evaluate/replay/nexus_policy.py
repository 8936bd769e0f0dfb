"""``nexus``: the decision service's own path, replayed minute by minute in process.

Nothing here decides. At reset a champion is trained on the trace's history by the real
training pipeline (a :data:`ChampionTrainer` the caller injects: the CLI and the bench pass
``pipelines.trace_champion.train_trace_champion``). Each minute the policy hands the last hour
of the trace, as the metric source would, to :meth:`nexus_ml.engine.DecisionEngine.decide` —
the method behind ``/v1/decisions`` — with the replica count in force as the executor would
observe it, and applies the decision through the executor's own
:class:`~nexus_ml.execute.guardrails.Guardrails` (confidence bars, cooldowns, step limits), as
the executor does. It sees only what replay model v1 allows: demand and replicas before the
current minute. The window carries, per minute, the replicas *running* (ready or starting: the
target in force), which is what the deployed metric source reports — Prometheus'
``nexus:replicas`` counts the containers cAdvisor sees, and a container runs seconds after a
scale, long before it serves.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from nexus_ml.catalog import Catalog, ModuleProfile
from nexus_ml.catalog.schema import ScaleTrigger
from nexus_ml.decide.observed import RecentAction
from nexus_ml.decide.strategy import UNDER_COST
from nexus_ml.decide.window import MetricWindow
from nexus_ml.domain import Action, Decision
from nexus_ml.engine import DecisionEngine, NullMetrics
from nexus_ml.errors import InputError
from nexus_ml.evaluate.replay.observation import Observation
from nexus_ml.execute.backend import ServiceState
from nexus_ml.execute.guardrails import GuardrailConfig, Guardrails
from nexus_ml.ingest.source import MetricFetch
from nexus_ml.models.registry.store import ModelBundle

if TYPE_CHECKING:
    from collections.abc import Sequence

    from nexus_ml.evaluate.replay.physics import PreparedTrace

#: Trains a champion on a demand history (DatetimeIndex, requests/min) for a module profile.
ChampionTrainer = Callable[[pd.Series, ModuleProfile], ModelBundle]

MODULE = "nexus-replayed-trace"
WINDOW_MINUTES = 60  # what the service reads from the metric source


def trace_profile(trace: PreparedTrace) -> ModuleProfile:
    """The replayed trace as a catalog module: replay model v1's capacity, bounds and delay."""
    p = trace.params
    return ModuleProfile(
        name=MODULE,
        display_name="replayed trace",
        schema="replay",
        client_share=1.0,
        cpu_limit=1.0,
        memory_limit_gb=1.0,
        min_replicas=p.min_replicas,
        max_replicas=p.max_replicas,
        port=8000,
        image="replay",
        scale_trigger=ScaleTrigger(metric="requests_per_min", threshold=1.0, duration_min=5),
        target_utilisation=p.u_target,
        startup_lead_time_s=p.startup_delay * 60,
        capacity_rpm_per_replica=trace.capacity,
    )


class _NoGapSource:
    """The replay hands every window in full: a gap query means a bug, not missing data."""

    def fetch(
        self,
        modules: Sequence[str],
        start: datetime,
        end: datetime,
        step: timedelta = timedelta(minutes=1),
    ) -> MetricFetch:
        raise InputError(f"the replay has no data source (asked {start} .. {end})")


class _OneChampion:
    def __init__(self, bundle: ModelBundle) -> None:
        self.bundle = bundle

    def get(self, module: str) -> ModelBundle | None:
        return self.bundle if module == self.bundle.module else None


class NexusPolicy:
    """The served decision path as a replay policy.

    Parameters
    ----------
    train_champion
        Trains the champion on the trace's history (the real training pipeline).
    guardrails
        The executor's limits; the production defaults unless given.
    under_cost
        The strategy's cost of a minute short of capacity (see ``nexus_ml.decide.strategy``).
    keep_decisions
        Keep every minute's inputs and decision in :attr:`decisions` (for comparisons).
    """

    name = "nexus"

    def __init__(
        self,
        train_champion: ChampionTrainer,
        *,
        guardrails: GuardrailConfig | None = None,
        under_cost: float = UNDER_COST,
        keep_decisions: bool = False,
    ) -> None:
        self.train_champion = train_champion
        self.keep_decisions = keep_decisions
        # (minute, replicas in force, actions applied in the last hour, decision) per minute
        self.decisions: list[tuple[datetime, int, tuple[RecentAction, ...], Decision]] = []
        self.guardrail_config = guardrails or GuardrailConfig()
        self.under_cost = under_cost
        self.last_confidence = math.nan
        self.decision_seconds = 0.0  # time spent in the engine, for the bench

    def reset(self, trace: PreparedTrace, *, initial_target: int) -> None:
        self.profile = trace_profile(trace)
        history = pd.Series(
            trace.demand[: trace.start], index=trace.timestamps[: trace.start], dtype=float
        )
        bundle = self.train_champion(history, self.profile)
        self.clock_now = trace.timestamps[trace.start].to_pydatetime()
        self.engine = DecisionEngine(
            Catalog(modules=(self.profile,)),
            _NoGapSource(),
            _OneChampion(bundle),
            NullMetrics(),
            clock=lambda: self.clock_now,
            window_minutes=WINDOW_MINUTES,
            cache_s=0.0,
            under_cost=self.under_cost,
        )
        self.guardrails = Guardrails(self.guardrail_config)
        self.stamps = [ts.to_pydatetime() for ts in trace.timestamps]
        self.recent: list[RecentAction] = []
        # replicas running per minute: the history as replay model v1 serves it (no replica
        # starting), then the target in force of each replayed minute
        self.running: list[float] = trace.demanded[: trace.start].astype(float).tolist()
        self.decision_seconds = 0.0
        self.decisions = []
        self.skips: dict[str, int] = {}  # scale decisions the guardrails held, by reason

    def target(self, obs: Observation) -> int:
        t = obs.t
        lo = max(0, t - WINDOW_MINUTES)
        now = self.stamps[t]
        self.clock_now = now
        if len(self.running) < t:  # the minute before ran the target in force now
            self.running.append(float(obs.target))
        window = MetricWindow(
            module=MODULE,
            timestamps=tuple(self.stamps[lo:t]),
            values={"requests_per_min": obs.demand[lo:t].tolist()},
            replicas=self.running[lo:t],
        )
        began = time.perf_counter()
        recent = tuple(self.recent)
        decision = self.engine.decide(
            MODULE, window, current_replicas=obs.target, recent_actions=recent
        )
        self.decision_seconds += time.perf_counter() - began
        if self.keep_decisions:
            self.decisions.append((now, obs.target, recent, decision))
        self.last_confidence = (
            decision.confidence if decision.action is Action.SCALE_UP else math.nan
        )
        state = ServiceState(
            module=MODULE, replicas=obs.target, running=int(obs.ready[-1]), image="", version=t
        )
        verdict = self.guardrails.check(decision, state, self.profile, now=now, decided_at=now)
        if not verdict.act or verdict.target is None:
            if decision.action in (Action.SCALE_UP, Action.SCALE_DOWN):
                key = f"{decision.action.value}:{verdict.reason}"
                self.skips[key] = self.skips.get(key, 0) + 1
            return obs.target
        self.guardrails.record(MODULE, decision.action, now)
        self.recent = [a for a in self.recent if (now - a.at).total_seconds() < 3600]
        self.recent.append(RecentAction(decision.action, now))
        return verdict.target
