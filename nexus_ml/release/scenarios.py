"""Labelled release scenarios built on the ERP simulator: what a staging run would measure.

A scenario is one release of one catalog module at a random weekday business hour of a
month (the production traffic a staging load generator replays): the baseline
(production's version) and the candidate run side by side in staging under the same mirrored
load, each scraped every ``step_s`` seconds for ``duration_s``. Demand comes from the
simulator's demand model at that instant (business hours, month end, its minute noise); each
version's latency, errors and dependency-call latency come from the simulator's metric model
(:func:`nexus_ml.sim.metrics.module_metrics`: M/M/c queue, overload errors, link latencies)
with the version's own noise and its own :class:`~nexus_ml.sim.incidents.Effects`. Per scrape,
requests are Poisson, errors binomial, and ``latency_ms`` is the p95 of the successful
requests' Erlang-2 response times (NaN when none succeeded: quiet nights and dead candidates
give the judge real missing data).

Kinds (label: the verdict a correct gate gives):

- ``good`` (Successful): small genuine changes, latency ×0.95–1.04, errors ±0.1 point.
- ``latency_p95`` (Failed): +20 % latency (p95).
- ``errors_5xx`` (Failed): +1 point of 5xx.
- ``crash_loop`` (Failed): tasks exit after 20–90 s and restart after 5–20 s; requests to a
  dying task fail, the survivors carry the load.
- ``failing_healthcheck`` (Failed): tasks never become healthy, Swarm routes nothing to them,
  nginx answers every request with a 5xx.
- ``silent_rollback`` (Failed): Swarm rolls the candidate back 30–60 % into the run; from then
  on the "candidate" samples are the baseline version's. The release status says so (update
  state ``rollback_completed``, or only the running version, on alternate scenarios).
- ``slow_dependency`` (Failed): calls to one dependency take 4–12 ms more; the module's own
  latency moves less than the allowed band, only ``call_latency_ms:<dependency>`` shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from nexus_ml.catalog import Catalog, ModuleProfile
from nexus_ml.features.calendar import LocalCalendar
from nexus_ml.release.samples import FloatArray, MetricSamples, Series
from nexus_ml.release.verdict import ReleaseStatus, VerdictName
from nexus_ml.sim.demand import demand_rpm
from nexus_ml.sim.incidents import Effects
from nexus_ml.sim.metrics import module_metrics
from nexus_ml.sim.noise import CHANNELS, DEMAND, noise_at
from nexus_ml.sim.traits import traits_for

KINDS: tuple[str, ...] = (
    "good",
    "latency_p95",
    "errors_5xx",
    "crash_loop",
    "failing_healthcheck",
    "silent_rollback",
    "slow_dependency",
)
EXPECTED: Mapping[str, VerdictName] = {k: "Successful" if k == "good" else "Failed" for k in KINDS}
BASELINE_VERSION, CANDIDATE_VERSION = "1", "2"
#: Response-time draws per scrape are capped here: a p95 of 2,000 draws is already exact enough.
MAX_DRAWS = 2000
#: Share of the requests routed to a task that is crashing which fail before Swarm drops it.
CRASH_FAIL_SHARE = 0.5
_MONTH_START = datetime(2026, 11, 1, tzinfo=UTC)
#: São Paulo's offset from UTC (no daylight saving time since 2019).
_UTC_OFFSET_H = -3.0


@dataclass(frozen=True)
class ScenarioSettings:
    """Shape of every staging run: length, scrape step, and the share of production's load
    mirrored to each version."""

    duration_s: int = 1800
    step_s: int = 15
    load_fraction: float = 1.0


@dataclass(frozen=True)
class ReleaseScenario:
    """One labelled release: both versions' samples, the status over time, the truth."""

    name: str
    kind: str
    module: str
    expected: VerdictName
    start: float
    duration_s: int
    baseline: MetricSamples
    candidate: MetricSamples
    onset_s: float | None
    status_events: tuple[tuple[float, ReleaseStatus], ...] = ()
    details: Mapping[str, float] = field(default_factory=dict)

    def status_at(self, offset_s: float) -> ReleaseStatus | None:
        """The last release status reported at or before ``offset_s`` into the run."""
        current = None
        for at, status in self.status_events:
            if at <= offset_s:
                current = status
        return current


@dataclass
class _Candidate:
    """What a kind does to the candidate: effects, running replicas and rollback time."""

    effects: Effects
    up: FloatArray
    rollback_at: int | None = None
    details: dict[str, float] = field(default_factory=dict)


def _samples(
    rng: np.random.Generator,
    t: FloatArray,
    step_s: int,
    requests_rpm: FloatArray,
    error_rate: FloatArray,
    response_ms: FloatArray,
    links: Mapping[str, FloatArray],
) -> MetricSamples:
    n = rng.poisson(requests_rpm * step_s / 60.0).astype(np.float64)
    errors = rng.binomial(n.astype(np.int64), np.clip(error_rate, 0.0, 1.0)).astype(np.float64)
    ok = (n - errors).astype(np.int64)
    p95 = np.full(len(t), np.nan)
    for i in np.flatnonzero(ok > 0):
        draws = rng.gamma(2.0, response_ms[i] / 2.0, size=min(int(ok[i]), MAX_DRAWS))
        p95[i] = float(np.percentile(draws, 95))
    series = {
        "requests": Series(t, n),
        "errors": Series(t, errors),
        "latency_ms": Series(t, p95),
    }
    for target, latency in links.items():
        # a scrape without successful requests made no calls to measure
        series[f"call_latency_ms:{target}"] = Series(t, np.where(ok > 0, latency, np.nan))
    return MetricSamples(series)


def _version(
    rng: np.random.Generator,
    profile: ModuleProfile,
    t: FloatArray,
    step_s: int,
    demand: FloatArray,
    demand_noise: FloatArray,
    up: FloatArray,
    effects: Effects,
) -> MetricSamples:
    cal = LocalCalendar.from_epoch(t.astype(np.int64))
    noise = rng.standard_normal((len(CHANNELS), len(t)))
    noise[DEMAND] = demand_noise
    s = module_metrics(profile, traits_for(profile.name), cal, noise, demand, up, effects)
    return _samples(rng, t, step_s, demand, s.error_rate, s.response_time, dict(s.link_latency_ms))


def _candidate(
    kind: str,
    rng: np.random.Generator,
    profile: ModuleProfile,
    replicas: int,
    n: int,
    step_s: int,
) -> _Candidate:
    effects = Effects(n)
    up = np.full(n, float(replicas))
    made = _Candidate(effects, up)
    if kind in ("good", "silent_rollback"):
        factor = float(rng.uniform(0.95, 1.04))
        effects.latency_factor *= factor
        effects.error_extra += float(rng.uniform(-0.001, 0.001))
        made.details["latency_factor"] = factor
    if kind == "silent_rollback":
        made.rollback_at = int(n * rng.uniform(0.3, 0.6))
        # the task failure that made Swarm roll back: one minute of extra errors
        blip = slice(max(0, made.rollback_at - 60 // step_s), made.rollback_at)
        effects.error_extra[blip] += 0.02
    elif kind == "latency_p95":
        effects.latency_factor *= 1.2
    elif kind == "errors_5xx":
        effects.error_extra += 0.01
    elif kind == "crash_loop":
        alive, dead = float(rng.uniform(20, 90)), float(rng.uniform(5, 20))
        down = rng.binomial(replicas, dead / (alive + dead), size=n).astype(np.float64)
        made.up = up - down
        effects.error_extra += CRASH_FAIL_SHARE * down / replicas
        made.details["down_share"] = dead / (alive + dead)
    elif kind == "failing_healthcheck":
        made.up = np.zeros(n)
    elif kind == "slow_dependency":
        target = str(rng.choice(list(profile.depends_on)))
        extra = float(rng.uniform(4.0, 12.0))
        effects.link(target)[:] += extra
        made.details["extra_ms"] = extra
    return made


def _staging_start(rng: np.random.Generator) -> float:
    """A weekday business-hours instant of the month (local 09:00–17:30): the production
    traffic the staging load generator replays."""
    weekdays = [d for d in range(30) if (_MONTH_START + timedelta(days=d)).weekday() < 5]
    day = weekdays[int(rng.integers(len(weekdays)))]
    local_hour = float(rng.uniform(9.0, 17.5))
    return (_MONTH_START + timedelta(days=day, hours=local_hour - _UTC_OFFSET_H)).timestamp()


def make_scenario(
    catalog: Catalog,
    kind: str,
    rng: np.random.Generator,
    *,
    name: str,
    settings: ScenarioSettings = ScenarioSettings(),
    demand_seed: int = 0,
) -> ReleaseScenario:
    """One scenario of ``kind`` at a random module and instant drawn from ``rng``."""
    if kind not in EXPECTED:
        raise ValueError(f"unknown scenario kind {kind!r}; known: {', '.join(KINDS)}")
    modules = [p for p in catalog if kind != "slow_dependency" or p.depends_on]
    profile = modules[int(rng.integers(len(modules)))]
    start = _staging_start(rng)
    step = settings.step_s
    t = start + np.arange(0, settings.duration_s, step, dtype=np.float64)
    n = len(t)
    cal = LocalCalendar.from_epoch(t.astype(np.int64))
    shared_noise, level = noise_at(demand_seed, profile.name, t.astype(np.int64))
    traits = traits_for(profile.name)
    demand = demand_rpm(profile, traits, cal, shared_noise, level) * settings.load_fraction
    per_replica = profile.capacity_rpm_per_replica * profile.target_utilisation
    replicas = int(
        np.clip(np.ceil(demand.max() / per_replica), max(1, profile.min_replicas), 10_000)
    )
    replicas = min(replicas, max(profile.max_replicas, 1))
    baseline = _version(
        rng,
        profile,
        t,
        step,
        demand,
        shared_noise[DEMAND],
        np.full(n, float(replicas)),
        Effects(n),
    )
    made = _candidate(kind, rng, profile, replicas, n, step)
    candidate = _version(rng, profile, t, step, demand, shared_noise[DEMAND], made.up, made.effects)
    onset: float | None = None if kind == "good" else 0.0
    running = ReleaseStatus(
        update_state="completed",
        candidate_version=CANDIDATE_VERSION,
        running_version=CANDIDATE_VERSION,
    )
    events: tuple[tuple[float, ReleaseStatus], ...] = ((0.0, running),)
    if kind in ("crash_loop", "failing_healthcheck"):
        events = ()  # no cluster status: only the metrics can tell
    if made.rollback_at is not None:
        # From the rollback on, the service runs the baseline version again.
        after = _version(
            rng,
            profile,
            t,
            step,
            demand,
            shared_noise[DEMAND],
            np.full(n, float(replicas)),
            Effects(n),
        )
        cut = t[made.rollback_at]
        candidate = MetricSamples(
            {
                m: Series(s.t, np.where(s.t < cut, s.v, after.series[m].v))
                for m, s in candidate.series.items()
            }
        )
        onset = float(cut - start)
        state = "rollback_completed" if int(rng.integers(2)) == 0 else None
        rolled = ReleaseStatus(
            update_state=state,
            candidate_version=CANDIDATE_VERSION,
            running_version=BASELINE_VERSION,
        )
        events = (*events, (onset, rolled))
    details = {
        "replicas": float(replicas),
        "demand_rpm": float(demand.mean()),
        "utilisation": float(demand.mean() / (replicas * profile.capacity_rpm_per_replica)),
        **made.details,
    }
    return ReleaseScenario(
        name=name,
        kind=kind,
        module=profile.name,
        expected=EXPECTED[kind],
        start=start,
        duration_s=settings.duration_s,
        baseline=baseline,
        candidate=candidate,
        onset_s=onset,
        status_events=events,
        details=details,
    )


def generate_scenarios(
    catalog: Catalog,
    counts: Mapping[str, int],
    *,
    seed: int,
    settings: ScenarioSettings = ScenarioSettings(),
) -> list[ReleaseScenario]:
    """``counts[kind]`` scenarios of each kind, deterministic in ``seed``.

    Parameters
    ----------
    catalog
        Modules to release (``slow_dependency`` only picks modules with dependencies).
    counts
        How many scenarios of each kind (see :data:`KINDS`).
    seed
        Seeds the draws of module, instant, magnitudes and every version's noise, and the
        simulator's demand noise.
    settings
        Run length, scrape step and mirrored load.
    """
    unknown = sorted(set(counts) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown scenario kind(s) {', '.join(unknown)}; known: {KINDS}")
    scenarios = []
    for k, kind in enumerate(KINDS):
        for i in range(counts.get(kind, 0)):
            rng = np.random.default_rng([seed, k, i])
            scenarios.append(
                make_scenario(
                    catalog, kind, rng, name=f"{kind}-{i}", settings=settings, demand_seed=seed
                )
            )
    return scenarios
