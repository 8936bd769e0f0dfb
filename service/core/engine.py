"""Gather a module's inputs (window, forecast, anomaly scores), call the pure policy, remember.

The engine is the only stateful part of a decision: the per-module
:class:`~nexus_ml.decide.policy.ModuleMemory` (stabilisation, cooldowns, restart budget) lives
here, and the GET snapshot of every module is cached for ``cache_s`` seconds so that a fleet of
pollers costs one computation per interval.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from nexus_ml.catalog import Catalog, ModuleProfile
from nexus_ml.decide.links import LinkLatency
from nexus_ml.decide.policy import DecisionInputs, ForecastView, ModuleMemory, PolicyConfig, decide
from nexus_ml.decide.window import MetricWindow
from nexus_ml.domain import Decision, Evidence
from nexus_ml.errors import DataQualityError, ModelError, NotFoundError
from nexus_ml.ingest.source import MetricSource
from nexus_ml.models.store import ModelBundle
from service.core.champions import ChampionRegistry
from service.core.online_anomaly import OnlineAnomalyScorer
from service.core.telemetry import ServiceMetrics

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


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


class DecisionEngine:
    """Decisions for the catalog's modules from a metric source and the champion models."""

    def __init__(
        self,
        catalog: Catalog,
        source: MetricSource,
        champions: ChampionRegistry,
        metrics: ServiceMetrics,
        *,
        clock: Clock,
        config: PolicyConfig = PolicyConfig(),
        window_minutes: int = 60,
        cache_s: float = 5.0,
    ) -> None:
        self.catalog = catalog
        self.source = source
        self.champions = champions
        self.metrics = metrics
        self.clock = clock
        self.config = config
        self.window_minutes = window_minutes
        self.cache_s = cache_s
        self._memory: dict[str, ModuleMemory] = {}
        self._memory_lock = threading.Lock()
        self._snapshot_lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        # forecasts keyed by (module, version, newest minute, recent values): a repeated
        # question about the same minute costs a dict lookup, not a model call
        self._forecasts: dict[tuple[object, ...], ForecastView] = {}
        self._forecast_lock = threading.Lock()
        self._windows: dict[str, tuple[float, MetricWindow]] = {}
        self._window_lock = threading.Lock()
        self._online_anomaly = OnlineAnomalyScorer()

    # -- inputs ---------------------------------------------------------------------------
    def read_windows(self, modules: Sequence[str]) -> dict[str, MetricWindow]:
        """The last ``window_minutes`` of each module from the metric source.

        A module's window is reused for ``cache_s`` seconds: the source's resolution is a
        minute, and a burst of requests should cost one query, not one each.
        """
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
            self.metrics.model_errors.labels(bundle.module, "forecast").inc()
            raise ModelError(f"forecast of {bundle.module}/{field} failed: {exc}") from exc
        return frame

    def anomaly_frame(self, bundle: ModelBundle, window: MetricWindow) -> pd.DataFrame:
        """The champion detector's scores of every row of the window."""
        if bundle.detector is None:
            raise NotFoundError(f"champion {bundle.version} of {bundle.module} has no detector")
        with self._anomaly_errors(bundle):
            scores: pd.DataFrame = bundle.detector.score(window.to_frame())
        return scores

    @contextmanager
    def _anomaly_errors(self, bundle: ModelBundle) -> Iterator[None]:
        """A detector failure becomes a counted :class:`ModelError` naming the module."""
        try:
            yield
        except Exception as exc:
            self.metrics.model_errors.labels(bundle.module, "anomaly").inc()
            raise ModelError(f"anomaly scoring of {bundle.module} failed: {exc}") from exc

    def _forecast_view(
        self, bundle: ModelBundle, profile: ModuleProfile, window: MetricWindow
    ) -> ForecastView:
        recent = tuple(window.field("requests_per_min")[-60:])
        key = (bundle.module, bundle.version, window.last_observed, hash(recent))
        with self._forecast_lock:
            cached = self._forecasts.get(key)
        if cached is not None:
            return cached
        view = self._compute_forecast_view(bundle, profile, window)
        with self._forecast_lock:
            if len(self._forecasts) >= 512:
                self._forecasts.clear()
            self._forecasts[key] = view
        return view

    def _compute_forecast_view(
        self, bundle: ModelBundle, profile: ModuleProfile, window: MetricWindow
    ) -> ForecastView:
        model = bundle.forecasters.get("requests_per_min")
        step = int(getattr(model, "step_seconds_", 60) or 60)
        horizon = max(1, math.ceil(profile.startup_lead_time_s / step)) + 1
        frame = self.forecast_frame(bundle, "requests_per_min", window, horizon, (80,))
        try:
            view = ForecastView(
                timestamps=tuple(
                    ts.to_pydatetime() for ts in pd.to_datetime(frame["ds"], utc=True)
                ),
                mean=tuple(float(v) for v in frame["mean"]),
                lo=tuple(float(v) for v in frame["lo-80"]),
                hi=tuple(float(v) for v in frame["hi-80"]),
                level=80.0,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"forecast of {bundle.module} has an unexpected shape: {exc}") from exc
        if not view.mean or not all(math.isfinite(v) for v in (*view.mean, *view.lo, *view.hi)):
            # a forecast with holes must not size the cluster: the rules decide instead
            raise ModelError(f"forecast of {bundle.module} is empty or not finite")
        return view

    def _anomaly_scores(self, bundle: ModelBundle, window: MetricWindow) -> dict[str, float] | None:
        if bundle.detector is None or len(window) == 0:
            return None
        with self._anomaly_errors(bundle):
            last = self._online_anomaly.latest(bundle, window.to_frame())
        if last is None:
            return None
        scores = {
            str(k): float(v)
            for k, v in last.items()
            if isinstance(v, int | float) and math.isfinite(v)
        }
        per_field = [v for k, v in scores.items() if k != "combined"]
        if per_field:
            # The detector's "combined" column raises one alarm per event and then stays quiet
            # (NAB rewards that); to confirm a symptom that lasts, the policy also needs the
            # strongest field while the event goes on.
            scores["sustained"] = max(per_field)
        return scores or None

    # -- decisions ------------------------------------------------------------------------
    def decide(
        self,
        module: str,
        window: MetricWindow | None = None,
        *,
        current_replicas: int | None = None,
        link_latencies: Sequence[LinkLatency] | None = None,
        deployed_at: datetime | None = None,
    ) -> Decision:
        """The decision for ``module`` (its window read from the source when not given)."""
        profile = self.catalog.get(module)
        if window is None:
            window = self.read_windows([profile.name])[profile.name]
        bundle = self.champions.get(profile.name)
        forecast, anomaly, model_note = None, None, None
        if bundle is not None:
            try:
                forecast = self._forecast_view(bundle, profile, window) if len(window) else None
                anomaly = self._anomaly_scores(bundle, window)
            except (ModelError, NotFoundError, DataQualityError) as exc:
                log.warning("model failed module=%s error=%s", profile.name, exc)
                forecast, anomaly, model_note = None, None, f"{exc}; the seed's rules decided"
        inputs = DecisionInputs(
            profile=profile,
            window=window,
            now=self.clock(),
            current_replicas=current_replicas,
            forecast=forecast,
            anomaly=anomaly,
            model_versions={profile.name: bundle.version} if bundle and forecast else {},
            link_latencies=link_latencies,
            deployed_at=deployed_at,
            catalog=self.catalog,
        )
        with self._memory_lock:
            memory = self._memory.get(profile.name, ModuleMemory())
            decision, next_memory = decide(inputs, memory, self.config)
            self._memory[profile.name] = next_memory
        if model_note:
            notes = (*decision.explanation, Evidence(kind="model", detail=model_note))
            decision = decision.model_copy(update={"explanation": notes})
        decision = _clean(decision)
        self.metrics.record_decision(decision)
        return decision

    def decide_all(self) -> tuple[Decision, ...]:
        """One decision per catalog module, from one fetch."""
        windows = self.read_windows(self.catalog.names)
        return tuple(self.decide(m, windows[m]) for m in self.catalog.names)

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
            decisions = self.decide_all()
            policy = "model" if all(d.policy == "model" for d in decisions) else "rules"
            generated = self.clock()
            body = (
                b'{"generated_at":"'
                + generated.isoformat().encode()
                + b'","decisions":['
                + b",".join(d.model_dump_json().encode() for d in decisions)
                + b'],"policy":"'
                + policy.encode()
                + b'"}'
            )
            self._snapshot = Snapshot(generated, decisions, policy, body, time.monotonic())
            return self._snapshot
