"""Gather a module's inputs (window, scaling strategy, anomaly scores) and call the pure policy.

The one decision path of nexus-ml: the HTTP routes, the demo loop and the replay benchmark all
call :meth:`DecisionEngine.decide`. The engine remembers nothing a decision depends on except
caches of functions of the observations: the strategies folded over the observed minutes
(:class:`~nexus_ml.engine.strategies.StrategyBook`), the online anomaly detectors, and the GET
snapshot of every module for ``cache_s`` seconds so that a fleet of pollers costs one
computation per interval. What the executor observed (replicas running, actions applied) comes
with the request.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import pandas as pd
from pydantic import BaseModel

from nexus_ml.catalog import Catalog, ModuleProfile
from nexus_ml.decide.links import LinkLatency
from nexus_ml.decide.observed import ModuleObservation, RecentAction
from nexus_ml.decide.policy import DecisionInputs, PolicyConfig, decide
from nexus_ml.decide.strategy import UNDER_COST
from nexus_ml.decide.window import MetricWindow
from nexus_ml.domain import Decision, Evidence
from nexus_ml.engine.online_anomaly import OnlineAnomalyScorer
from nexus_ml.engine.strategies import LockedStrategy, StrategyBook, settled_until
from nexus_ml.errors import DataQualityError, ModelError, NotFoundError
from nexus_ml.ingest.source import MetricSource
from nexus_ml.logs import get_logger
from nexus_ml.models.registry.store import ModelBundle

log = get_logger(__name__)

Clock = Callable[[], datetime]


class Champions(Protocol):
    """The champion bundle of each module (the service's ``ChampionRegistry``)."""

    def get(self, module: str) -> ModelBundle | None: ...


class EngineMetrics(Protocol):
    """What the engine counts (the service's ``ServiceMetrics``)."""

    def record_decision(self, decision: Decision) -> None: ...

    def model_error(self, module: str, kind: str) -> None: ...


class NullMetrics:
    """Counts nothing: for callers without a metrics registry (the replay benchmark)."""

    def record_decision(self, decision: Decision) -> None:
        return None

    def model_error(self, module: str, kind: str) -> None:
        return None


@dataclass(frozen=True)
class Snapshot:
    """Every module's decision at one instant, with its JSON ready to send."""

    generated_at: datetime
    decisions: tuple[Decision, ...]
    policy: str
    body: bytes
    monotonic: float


def _finite_or_none(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def _clean(decision: Decision) -> Decision:
    # evidence values come from models; JSON has no NaN
    evidence = tuple(
        e.model_copy(update={"value": _finite_or_none(e.value)}) for e in decision.explanation
    )
    return decision.model_copy(update={"explanation": evidence})


def policy_scores(row: pd.Series) -> dict[str, float] | None:
    """The scores the policy reads from one row of a detector's scores (None: no finite one).

    The detector's "combined" column raises one alarm per event and then stays quiet (NAB
    rewards that); to confirm a symptom that lasts, the policy also needs the strongest field
    while the event goes on ("sustained").
    """
    scores = {
        str(k): float(v) for k, v in row.items() if isinstance(v, int | float) and math.isfinite(v)
    }
    per_field = [v for k, v in scores.items() if k != "combined"]
    if per_field:
        scores["sustained"] = max(per_field)
    return scores or None


class DecisionEngine:
    """Decisions for the catalog's modules from a metric source and the champion models."""

    def __init__(
        self,
        catalog: Catalog,
        source: MetricSource,
        champions: Champions,
        metrics: EngineMetrics,
        *,
        clock: Clock,
        config: PolicyConfig = PolicyConfig(),
        window_minutes: int = 60,
        cache_s: float = 5.0,
        under_cost: float = UNDER_COST,
    ) -> None:
        self.catalog = catalog
        self.source = source
        self.champions = champions
        self.metrics = metrics
        self.clock = clock
        self.config = config
        self.window_minutes = window_minutes
        self.cache_s = cache_s
        self._snapshot_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self.strategies = StrategyBook(source, under_cost=under_cost)
        self._windows: dict[str, tuple[float, MetricWindow]] = {}
        self._window_lock = threading.Lock()
        self._online_anomaly = OnlineAnomalyScorer()

    # -- inputs ---------------------------------------------------------------------------
    def read_windows(self, modules: Sequence[str]) -> dict[str, MetricWindow]:
        """The settled minutes of the last ``window_minutes`` of each module from the source.

        Only settled minutes (:func:`~nexus_ml.engine.strategies.settled_until`) are given:
        the newest minute's point is still filling for a scrape interval, and two service
        replicas that read it seconds apart would see different demand, latency and errors —
        and decide differently. Every reading of a decision (the load check, the health
        rules, the strategy's and the detector's folds) starts from the same minutes.

        A module's window is reused for ``cache_s`` seconds: the source's resolution is a
        minute, and a burst of requests should cost one query, not one each.
        """
        settled = settled_until(self.clock())
        return {m: w.until(settled) for m, w in self._read_windows(modules).items()}

    def _read_windows(self, modules: Sequence[str]) -> dict[str, MetricWindow]:
        now = time.monotonic()
        with self._window_lock:
            cached = {
                m: w
                for m, (at, w) in self._windows.items()
                if m in modules and now - at < self.cache_s
            }
        missing = [m for m in modules if m not in cached]
        if missing:
            end = self.clock()
            start = end - timedelta(minutes=self.window_minutes)
            fetch = self.source.fetch(missing, start, end)
            fresh = {m: MetricWindow.from_frame(fetch.frame, m) for m in missing}
            with self._window_lock:
                self._windows.update({m: (now, w) for m, w in fresh.items()})
            cached.update(fresh)
        return {m: cached[m] for m in modules}

    def forecast_frame(
        self,
        bundle: ModelBundle,
        field: str,
        window: MetricWindow,
        horizon: int,
        levels: Sequence[int],
    ) -> pd.DataFrame:
        """The champion's forecast of ``field`` conditioned on the window (no refit)."""
        model = bundle.forecasters.get(field)
        if model is None:
            raise NotFoundError(
                f"champion {bundle.version} of {bundle.module} has no {field!r} forecaster"
            )
        step = int(getattr(model, "step_seconds_", 60) or 60)
        context = pd.Series(
            list(window.field(field)),
            index=pd.DatetimeIndex(list(window.timestamps)),
            dtype="float64",
        ).dropna()
        if step > 60 and not context.empty:
            context = context.resample(f"{step}s").mean().dropna()
        try:
            frame: pd.DataFrame = model.predict(horizon, levels=tuple(levels), context=context)
        except Exception as exc:
            self.metrics.model_error(bundle.module, "forecast")
            raise ModelError(f"forecast of {bundle.module}/{field} failed: {exc}") from exc
        return frame

    def anomaly_frame(self, bundle: ModelBundle, window: MetricWindow) -> pd.DataFrame:
        """The champion detector's scores of every row of the window."""
        if bundle.detector is None:
            raise NotFoundError(f"champion {bundle.version} of {bundle.module} has no detector")
        with self._anomaly_errors(bundle):
            scores: pd.DataFrame = bundle.detector.score(window.to_wide())
        return scores

    @contextmanager
    def _anomaly_errors(self, bundle: ModelBundle) -> Iterator[None]:
        """A detector failure becomes a counted :class:`ModelError` naming the module."""
        try:
            yield
        except Exception as exc:
            self.metrics.model_error(bundle.module, "anomaly")
            raise ModelError(f"anomaly scoring of {bundle.module} failed: {exc}") from exc

    def _strategy(
        self, bundle: ModelBundle, profile: ModuleProfile, window: MetricWindow
    ) -> LockedStrategy:
        try:
            return self.strategies.strategy(bundle, profile, window, now=self.clock())
        except ModelError:
            self.metrics.model_error(bundle.module, "scaling")
            raise
        except Exception as exc:
            self.metrics.model_error(bundle.module, "scaling")
            raise ModelError(f"scaling strategy of {bundle.module} failed: {exc}") from exc

    def _anomaly_scores(self, bundle: ModelBundle, window: MetricWindow) -> dict[str, float] | None:
        if bundle.detector is None or len(window) == 0:
            return None
        # The detector folds each row once, as first seen: like the strategy, it takes only
        # settled minutes, so two replicas that read a filling minute seconds apart agree.
        frame = window.until(settled_until(self.clock())).to_wide()
        with self._anomaly_errors(bundle):
            last = self._online_anomaly.latest(bundle, frame)
        if last is None:
            return None
        return policy_scores(last)

    # -- decisions ------------------------------------------------------------------------
    def decide(
        self,
        module: str,
        window: MetricWindow | None = None,
        *,
        current_replicas: int | None = None,
        link_latencies: Sequence[LinkLatency] | None = None,
        deployed_at: datetime | None = None,
        recent_actions: Sequence[RecentAction] = (),
        current_version: str = "",
        last_stable_version: str = "",
        other_windows: Mapping[str, MetricWindow] | None = None,
    ) -> Decision:
        """The decision for ``module`` (its window read from the source when not given).

        ``current_replicas`` and ``recent_actions`` are what the executor observed in the
        cluster and applied lately; without them the window's replica count is used.
        ``deployed_at``, ``current_version`` and ``last_stable_version`` describe the release
        running (the post-deploy check judges it); ``other_windows`` are the other modules'
        windows, for the rollback's scope.
        """
        profile = self.catalog.get(module)
        if window is None:
            window = self.read_windows([profile.name])[profile.name]
        bundle = self.champions.get(profile.name)
        strategy, anomaly, model_note = None, None, None
        if bundle is not None and len(window):
            try:
                strategy = self._strategy(bundle, profile, window)
                anomaly = self._anomaly_scores(bundle, window)
            except (ModelError, NotFoundError, DataQualityError) as exc:
                log.warning(
                    "engine.model_failed", module=profile.name, error=str(exc), policy="rules"
                )
                strategy, anomaly, model_note = None, None, f"{exc}; the seed's rules decided"
        inputs = DecisionInputs(
            profile=profile,
            window=window,
            now=self.clock(),
            current_replicas=current_replicas,
            strategy=strategy,
            anomaly=anomaly,
            model_versions={profile.name: bundle.version} if bundle and strategy else {},
            link_latencies=link_latencies,
            deployed_at=deployed_at,
            catalog=self.catalog,
            recent_actions=recent_actions,
            current_version=current_version,
            last_stable_version=last_stable_version,
            other_windows={k: v for k, v in (other_windows or {}).items() if k != profile.name},
        )
        decision = decide(inputs, self.config)
        if model_note:
            notes = (*decision.explanation, Evidence(kind="model", detail=model_note))
            decision = decision.model_copy(update={"explanation": notes})
        decision = _clean(decision)
        self.metrics.record_decision(decision)
        return decision

    def decide_all(
        self, observed: Mapping[str, ModuleObservation] | None = None
    ) -> tuple[Decision, ...]:
        """One decision per catalog module, from one fetch, with what the executor observed."""
        windows = self.read_windows(self.catalog.names)
        seen = observed or {}
        decisions = []
        for module in self.catalog.names:
            obs = seen.get(module) or ModuleObservation()
            released = obs.release_at()
            decisions.append(
                self.decide(
                    module,
                    windows[module],
                    current_replicas=obs.replicas,
                    recent_actions=obs.recent_actions,
                    deployed_at=released,
                    current_version=obs.image,
                    # the image the release replaced is the last one that ran well
                    last_stable_version=obs.previous_image if released is not None else "",
                    other_windows=windows,
                )
            )
        return tuple(decisions)

    def observed_snapshot(self, observed: Mapping[str, ModuleObservation]) -> Snapshot:
        """Every module's decision given what the executor observed (never cached: the
        observation is part of the question)."""
        return self._make_snapshot(self.decide_all(observed))

    def cached_snapshot(self) -> Snapshot | None:
        """The current snapshot when it is younger than ``cache_s`` (no work, no lock)."""
        snap = self._snapshot
        if snap is not None and time.monotonic() - snap.monotonic < self.cache_s:
            return snap
        return None

    def snapshot(self) -> Snapshot:
        """Every module's decision, recomputed at most once per ``cache_s`` seconds."""
        with self._snapshot_lock:
            cached = self.cached_snapshot()
            if cached is not None:
                return cached
            self._snapshot = self._make_snapshot(self.decide_all())
            return self._snapshot

    def _make_snapshot(self, decisions: tuple[Decision, ...]) -> Snapshot:
        policy = "model" if all(d.policy == "model" for d in decisions) else "rules"
        generated = self.clock()
        body = _Envelope(generated_at=generated, decisions=list(decisions), policy=policy)
        return Snapshot(
            generated, decisions, policy, body.model_dump_json().encode(), time.monotonic()
        )


class _Envelope(BaseModel):
    generated_at: datetime
    decisions: list[Decision]
    policy: str
