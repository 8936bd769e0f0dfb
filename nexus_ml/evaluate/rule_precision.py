"""How often the seed's rules are right when they fire, on simulated incidents.

Used by ``tests/evaluate/test_rule_precision.py`` (a held-out seed) and
``bench/bench_rule_precision.py`` (the figures in :mod:`nexus_ml.decide.health` and
:mod:`nexus_ml.decide.rules`).

Method. Each case simulates 7 hours of every catalog module (``simulate_history``, its reactive
autoscaler running the replicas) with one incident injected into one module at hour 4; the
kinds come in equal numbers (latency degradation, memory leak, error burst, bad release, slow
dependency, demand surge) with random module, day, duration (30–120 min) and magnitude. The
policy (:func:`nexus_ml.decide.policy.decide`) runs in rules mode (no champion, no anomaly
scores) on the 60-minute window of every minute from hour 1 on, with the replicas the
simulation runs and, for a bad release, its deploy time (the executor observes the service's
``UpdatedAt``, as in production). A firing is counted once per executor cooldown (restart
10 min, scale-down 5 min, scale-up 1 min). A firing is right when:

- restart: a latency degradation or a memory leak — what a restart cures — is active on the
  module (a restart does not fix a bad release, a slow dependency, a surge or a burst);
- scale-down: one replica fewer still carries the true demand of the next 30 minutes
  (demand ≤ (replicas − 1) × capacity per replica);
- scale-up: the true demand of the next 15 minutes goes above the running replicas' capacity
  at the target utilisation (the extra replica is needed).

Recall, per incident kind: a case is *answered* when, while its incident is active, the policy
acts on the incident's module or tells an operator about it (a restart, a rollback, or an
alert: an early warning, a seed-rule alert) or, for a demand surge, scales it up (a surge the
running replicas serve within their target utilisation needs no answer and is no case); with the
minutes from the incident's start to the first answer and the share of the incident gone by
then (a latency degradation ends in a crash, its last 5 %: answered before it is what the
operators asked for). Precision says how often a firing is right; this says how many incidents
nobody hears about. The memory trend's restarts are
counted apart (``memory_restarts``: a restart the seed rule did not make), and so are the alerts
of an early warning, the memory trend and a slow link (:data:`ALERT_KINDS`: each is right while
an incident it looks for is active on the module).

Model mode (``detectors``, see :func:`fit_detectors`): each module's anomaly detector, fitted
on 8 incident-free simulated days as the training pipeline fits it, scores the case's rows
causally and the policy reads them as the service gives them (``engine.policy_scores``). It
counts the early warnings too (an alert on a strong anomaly score with one symptom) and
whether they came while an incident was active on the module.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.decide.canary import CanaryConfig
from nexus_ml.decide.health import EARLY_WARNING, FAILING_REQUESTS
from nexus_ml.decide.policy import DecisionInputs, decide
from nexus_ml.decide.trend import LATENCY_TREND, MEMORY_TREND, MEMORY_WATCH
from nexus_ml.decide.window import MetricWindow
from nexus_ml.domain.decision import Action
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.engine.engine import policy_scores
from nexus_ml.sim.history import simulate_history
from nexus_ml.sim.incidents import (
    BadRelease,
    DemandSurge,
    ErrorBurst,
    Incident,
    LatencyDegradation,
    MemoryLeak,
    SlowDependency,
)

KINDS = (
    "latency_degradation",
    "memory_leak",
    "error_burst",
    "bad_release",
    "slow_dependency",
    "demand_surge",
)
MAGNITUDES = {
    "latency_degradation": (2.0, 6.0),
    "memory_leak": (0.2, 0.5),
    "error_burst": (0.05, 0.3),
    "bad_release": (1.0, 4.0),
    "slow_dependency": (100.0, 800.0),
    "demand_surge": (0.5, 3.0),
}
RESTART_CURES = frozenset({"latency_degradation", "memory_leak"})
#: The alerts counted apart (evidence kind), and the incidents each one is right about: an
#: early warning about any incident, the memory trend and the memory watch about a leak, the
#: response-time trend about what slows a module down (not a surge: load), a slow link about a
#: slow dependency, failing requests about what makes the module fail them (a degradation's
#: errors come late).
ALERT_KINDS: dict[str, frozenset[str]] = {
    EARLY_WARNING: frozenset(KINDS),
    MEMORY_TREND: frozenset({"memory_leak"}),
    MEMORY_WATCH: frozenset({"memory_leak"}),
    LATENCY_TREND: frozenset({"latency_degradation", "bad_release", "slow_dependency"}),
    "slow_link": frozenset({"slow_dependency"}),
    FAILING_REQUESTS: frozenset({"error_burst", "bad_release", "latency_degradation"}),
}
COOLDOWN_MIN = {Action.RESTART: 10, Action.SCALE_DOWN: 5, Action.SCALE_UP: 1}
WINDOW, HOURS, INCIDENT_AT_H = 60, 7, 4
CANARY_READY_S = CanaryConfig().ready_after_s


@dataclass
class Tally:
    """Firings and right firings per action, and the incidents behind wrong restarts."""

    fired: dict[Action, int] = field(default_factory=lambda: dict.fromkeys(COOLDOWN_MIN, 0))
    right: dict[Action, int] = field(default_factory=lambda: dict.fromkeys(COOLDOWN_MIN, 0))
    wrong_restarts: dict[str, int] = field(default_factory=dict)
    # restarts fired while a known deploy was younger than the canary's minimum samples (the
    # restart races the canary check that would roll the release back)
    racing_restarts: int = 0
    # alerts that are not a restart's (one per restart cooldown), by evidence kind (see
    # ALERT_KINDS), and the right ones: those while an incident the kind looks for was active
    alerts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ALERT_KINDS, 0))
    alerts_right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ALERT_KINDS, 0))
    # restarts the memory trend made (the seed rule did not fire), and the right ones
    memory_restarts: int = 0
    memory_restarts_right: int = 0
    # per incident kind: cases, and the minutes from the incident's start to the first answer
    # of each answered case (see the module doc)
    cases: dict[str, int] = field(default_factory=dict)
    answered_after: dict[str, list[int]] = field(default_factory=dict)
    # ... and the share of the incident's duration gone by at that answer
    answered_at_share: dict[str, list[float]] = field(default_factory=dict)
    # per kind, the cases that needed no answer (not counted in ``cases``): a surge the running
    # replicas served within their target utilisation
    absorbed: dict[str, int] = field(default_factory=dict)

    def recall(self, kind: str) -> float:
        """The share of ``kind``'s cases answered while the incident was active."""
        n = self.cases.get(kind, 0)
        return len(self.answered_after.get(kind, [])) / n if n else math.nan

    def precision(self, action: Action) -> float:
        return self.right[action] / self.fired[action] if self.fired[action] else math.nan

    def add(self, other: Tally) -> None:
        for a in COOLDOWN_MIN:
            self.fired[a] += other.fired[a]
            self.right[a] += other.right[a]
        _add_counts(self.wrong_restarts, other.wrong_restarts)
        self.racing_restarts += other.racing_restarts
        for k in ALERT_KINDS:
            self.alerts[k] += other.alerts[k]
            self.alerts_right[k] += other.alerts_right[k]
        self.memory_restarts += other.memory_restarts
        self.memory_restarts_right += other.memory_restarts_right
        _add_counts(self.cases, other.cases)
        _add_counts(self.absorbed, other.absorbed)
        for k, minutes in other.answered_after.items():
            self.answered_after.setdefault(k, []).extend(minutes)
        for k, shares in other.answered_at_share.items():
            self.answered_at_share.setdefault(k, []).extend(shares)

    def answered_before(self, kind: str, share: float) -> int:
        """How many of ``kind``'s cases were answered before ``share`` of the incident."""
        return sum(1 for s in self.answered_at_share.get(kind, []) if s < share)


def _add_counts(into: dict[str, int], other: Mapping[str, int]) -> None:
    for key, n in other.items():
        into[key] = into.get(key, 0) + n


def wilson_lower(right: int, n: int, z: float = 1.96) -> float:
    """The lower end of the Wilson 95 % interval of a proportion ``right / n``."""
    if n == 0:
        return 0.0
    p = right / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


def make_incident(
    kind: str, module: str, start: datetime, rng: np.random.Generator, catalog: Catalog
) -> Incident:
    lo, hi = MAGNITUDES[kind]
    common: dict[str, Any] = {
        "module": module,
        "start": start,
        "duration": timedelta(minutes=int(rng.integers(30, 121))),
        "magnitude": float(rng.uniform(lo, hi)),
    }
    if kind == "slow_dependency":
        others = [m for m in catalog.names if m != module]
        return SlowDependency(**common, target=others[int(rng.integers(len(others)))])
    cls = {
        "latency_degradation": LatencyDegradation,
        "memory_leak": MemoryLeak,
        "error_burst": ErrorBurst,
        "bad_release": BadRelease,
        "demand_surge": DemandSurge,
    }[kind]
    return cls(**common)  # type: ignore[no-any-return]


def _window(rows: pd.DataFrame, end: int, stamps: list[datetime]) -> MetricWindow:
    part = rows.iloc[end - WINDOW + 1 : end + 1]
    return MetricWindow(
        module=str(rows["module"].iloc[0]),
        timestamps=tuple(stamps[end - WINDOW + 1 : end + 1]),
        values={f: part[f].to_numpy(dtype=float).tolist() for f in METRIC_FIELDS},
        replicas=part["replicas"].to_numpy(dtype=float).tolist(),
    )


def fit_detectors(catalog: Catalog, *, seed: int = 99, days: float = 8.0) -> dict[str, Any]:
    """Each module's anomaly detector, fitted on ``days`` incident-free simulated days."""
    from nexus_ml.models.anomaly.detector import AnomalyDetector

    frame = simulate_history(catalog, start=datetime(2026, 2, 1, tzinfo=UTC), days=days, seed=seed)
    return {
        name: AnomalyDetector().fit(
            frame[frame["module"] == name].set_index("timestamp")[list(METRIC_FIELDS)]
        )
        for name in catalog.names
    }


def _absorbed(frame: pd.DataFrame, incident: Incident, catalog: Catalog) -> bool:
    """Whether the module's running replicas served the incident's demand at every minute
    within their target utilisation (the simulation's own autoscaler runs them)."""
    profile = catalog.get(incident.module)
    rows = frame[
        (frame["module"] == incident.module)
        & (frame["timestamp"] >= incident.start)
        & (frame["timestamp"] < incident.end)
    ]
    serves = rows["replicas"] * profile.capacity_rpm_per_replica * profile.target_utilisation
    return bool((rows["demand_rpm"] <= serves).all())


def run_case(
    catalog: Catalog,
    kind: str,
    rng: np.random.Generator,
    *,
    sim_seed: int,
    detectors: Mapping[str, Any] | None = None,
) -> Tally:
    """One simulated history with one incident of ``kind``; the rules' firings judged (with
    ``detectors``, the policy also reads their anomaly scores)."""
    module = catalog.names[int(rng.integers(len(catalog.names)))]
    start = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 60)))
    start += timedelta(hours=int(rng.integers(0, 17)))
    incident = make_incident(kind, module, start + timedelta(hours=INCIDENT_AT_H), rng, catalog)
    frame = simulate_history(
        catalog, start=start, days=HOURS / 24, seed=sim_seed, incidents=[incident]
    )
    absorbed = kind == "demand_surge" and _absorbed(frame, incident, catalog)
    # a surge the running replicas serve within their target utilisation needs no answer
    tally = Tally(cases={} if absorbed else {kind: 1}, absorbed={kind: int(absorbed)})
    answered_at: datetime | None = None
    for name in catalog.names:
        profile = catalog.get(name)
        rows = frame[frame["module"] == name].reset_index(drop=True)
        stamps = [t.to_pydatetime() for t in rows["timestamp"]]
        demand = rows["demand_rpm"].to_numpy(dtype=float)
        replicas = rows["replicas"].to_numpy(dtype=int)
        scores = None
        if detectors is not None:  # a copy per case: every case starts where the fit ended
            detector = copy.deepcopy(detectors[name])
            scores = detector.score(rows.set_index("timestamp")[list(METRIC_FIELDS)])
        last_fired: dict[Action, int] = {}
        for end in range(WINDOW - 1, len(rows)):
            now = stamps[end]
            current = int(replicas[end])
            deployed = isinstance(incident, BadRelease) and name == incident.module
            decision = decide(
                DecisionInputs(
                    profile=profile,
                    window=_window(rows, end, stamps),
                    now=now,
                    current_replicas=current,
                    anomaly=policy_scores(scores.iloc[end]) if scores is not None else None,
                    # the executor observes a release's UpdatedAt: the policy knows the deploy
                    deployed_at=incident.start if deployed and now >= incident.start else None,
                    catalog=catalog,
                )
            )
            action = decision.action
            if answered_at is None and name == incident.module and incident.start <= now:
                surge_answer = kind == "demand_surge" and action is Action.SCALE_UP
                acted = action in (Action.RESTART, Action.ROLLBACK)
                if now < incident.end and (decision.alert_admin or acted or surge_answer):
                    answered_at = now
            kinds = {e.kind for e in decision.explanation}
            alerted = kinds & set(ALERT_KINDS) if action is Action.ALERT else set()
            if alerted and end - last_fired.get(action, -10_000) >= COOLDOWN_MIN[Action.RESTART]:
                last_fired[action] = end  # one alert per restart cooldown, as for restarts
                active = name == incident.module and incident.start <= now < incident.end
                for alert_kind in alerted:
                    looks_for = ALERT_KINDS[alert_kind]
                    tally.alerts[alert_kind] += 1
                    tally.alerts_right[alert_kind] += int(active and kind in looks_for)
            if action not in COOLDOWN_MIN:
                continue
            if end - last_fired.get(action, -10_000) < COOLDOWN_MIN[action]:
                continue
            last_fired[action] = end
            tally.fired[action] += 1
            if action is Action.RESTART:
                active = name == incident.module and incident.start <= now < incident.end
                ok = active and kind in RESTART_CURES
                if not ok:
                    cause = kind if active else "none"
                    tally.wrong_restarts[cause] = tally.wrong_restarts.get(cause, 0) + 1
                if MEMORY_TREND in kinds and "health" not in kinds:  # not the seed rule's
                    tally.memory_restarts += 1
                    tally.memory_restarts_right += int(ok)
                young = deployed and now - incident.start < timedelta(seconds=CANARY_READY_S)
                tally.racing_restarts += int(young and now >= incident.start)
            elif action is Action.SCALE_DOWN:
                ahead = demand[end + 1 : end + 31]
                ok = (
                    bool(len(ahead))
                    and float(ahead.max()) <= (current - 1) * profile.capacity_rpm_per_replica
                )
            else:
                ahead = demand[end + 1 : end + 16]
                need = current * profile.capacity_rpm_per_replica * profile.target_utilisation
                ok = bool(len(ahead)) and float(ahead.max()) > need
            tally.right[action] += int(ok)
    if answered_at is not None and not absorbed:
        tally.answered_after[kind] = [int((answered_at - incident.start).total_seconds() // 60)]
        tally.answered_at_share[kind] = [(answered_at - incident.start) / incident.duration]
    return tally


def measure(
    seed: int,
    per_kind: int,
    catalog: Catalog | None = None,
    kinds: Iterable[str] = KINDS,
    *,
    detectors: Mapping[str, Any] | None = None,
) -> Tally:
    """``per_kind`` cases of each incident kind, all randomness from ``seed`` (with
    ``detectors``: model mode, see the module doc)."""
    catalog = catalog or load_catalog()
    rng = np.random.default_rng(seed)
    total = Tally()
    for _ in range(per_kind):
        for kind in kinds:
            sim_seed = int(rng.integers(1 << 30))
            total.add(run_case(catalog, kind, rng, sim_seed=sim_seed, detectors=detectors))
    return total
