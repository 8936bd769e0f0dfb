"""Vectorised history: weeks of one-minute metrics for every module in a fraction of a second.

Every quantity is a pure function of (seed, module, instant, replicas, incidents), so a
history and the live simulator (:mod:`nexus_ml.sim.simulator`) agree minute by minute.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from nexus_ml.catalog import Catalog, ModuleProfile
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import InputError
from nexus_ml.features.calendar import LocalCalendar
from nexus_ml.sim.demand import demand_rpm
from nexus_ml.sim.incidents import Effects, Incident, SlowDependency, as_utc
from nexus_ml.sim.metrics import ModuleSeries, module_metrics
from nexus_ml.sim.noise import noise_at
from nexus_ml.sim.traits import ModuleTraits, traits_for

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ReplicaSpec = Mapping[str, int | Sequence[int] | npt.NDArray[np.int64]]
Progress = Callable[[int, int], None]

#: Extra columns of a simulated frame next to the metric-frame columns: the ground truth.
TRUTH_COLUMNS: tuple[str, ...] = ("replicas", "demand_rpm")
#: A reactive autoscaler looks at the mean of the last minutes and scales down slowly.
OBSERVE_S, STABILISE_S = 300, 600


def resolve_incidents(catalog: Catalog, incidents: Iterable[Incident]) -> tuple[Incident, ...]:
    """Incidents with full module names (``crm`` → ``nexus-crm``), checked against the catalog.

    Raises
    ------
    NotFoundError
        An incident names a module (or call target) the catalog does not know.
    """
    resolved: list[Incident] = []
    for incident in incidents:
        changes: dict[str, str] = {"module": catalog.get(incident.module).name}
        if isinstance(incident, SlowDependency):
            changes["target"] = catalog.get(incident.target).name
        resolved.append(replace(incident, **changes))  # type: ignore[arg-type]
    return tuple(resolved)


def effects_for(module: str, incidents: Iterable[Incident], t: IntArray) -> Effects:
    """The combined effect of ``module``'s incidents at epoch seconds ``t``."""
    effects = Effects(len(t))
    for incident in incidents:
        if incident.module == module:
            incident.apply(effects, t)
    return effects


def reactive_replicas(demand: FloatArray, profile: ModuleProfile, step_s: int) -> IntArray:
    """Replicas a reactive autoscaler would run: the recent mean at target utilisation.

    It sees the mean demand of the previous ``OBSERVE_S`` seconds (so it lags ramps) and
    keeps the highest recommendation of the last ``STABILISE_S`` seconds (slow scale-down).
    """
    per_replica = profile.capacity_rpm_per_replica * profile.target_utilisation
    observe = max(1, OBSERVE_S // step_s)
    seen = pd.Series(demand).rolling(observe, min_periods=1).mean().shift(1).bfill()
    desired = np.ceil(seen.to_numpy() / per_replica - 1e-9)
    stable = pd.Series(desired).rolling(max(1, STABILISE_S // step_s), min_periods=1).max()
    clamped = np.clip(stable.to_numpy(), profile.min_replicas, profile.max_replicas)
    return np.asarray(clamped, dtype=np.int64)


def _replicas_of(
    spec: ReplicaSpec | None, profile: ModuleProfile, demand: FloatArray, step_s: int
) -> IntArray:
    if spec is None or profile.name not in spec:
        return reactive_replicas(demand, profile, step_s)
    given = np.asarray(spec[profile.name], dtype=np.int64)
    if given.ndim == 0:
        return np.full(len(demand), int(given), dtype=np.int64)
    if given.shape != demand.shape or (given < 0).any():
        raise InputError(
            f"replicas for {profile.name}: need {len(demand)} values ≥ 0, got shape {given.shape}"
        )
    return given


def simulate_module(
    profile: ModuleProfile,
    traits: ModuleTraits,
    cal: LocalCalendar,
    *,
    seed: int,
    incidents: Sequence[Incident] = (),
    replicas: ReplicaSpec | None = None,
    step_s: int = 60,
) -> ModuleSeries:
    """Every simulated quantity of one module over the time axis of ``cal``."""
    noise, level = noise_at(seed, profile.name, cal.t)
    effects = effects_for(profile.name, incidents, cal.t)
    demand = demand_rpm(profile, traits, cal, noise, level) * effects.demand_factor
    count = _replicas_of(replicas, profile, demand, step_s)
    return module_metrics(profile, traits, cal, noise, demand, count.astype(np.float64), effects)


def series_frame(
    modules: Sequence[str], t: IntArray, series: Sequence[ModuleSeries]
) -> pd.DataFrame:
    """Modules' series on epoch seconds ``t`` as metric-frame rows (module-major), plus the
    ground-truth columns."""
    floats = (*METRIC_FIELDS, "demand_rpm")
    n = len(t)
    # One (columns × rows) block filled in place: pandas adopts it without another copy.
    block = np.empty((len(floats), n * len(modules)))
    replicas = np.empty(n * len(modules), dtype=np.int64)
    for i, one in enumerate(series):
        rows = slice(i * n, (i + 1) * n)
        for j, name in enumerate(floats):
            block[j, rows] = getattr(one, name)
        replicas[rows] = one.replicas
    frame = pd.DataFrame(block.T, columns=list(floats), copy=False)
    frame.insert(0, "module", np.repeat(np.asarray(modules, dtype=object), n))
    frame.insert(1, "timestamp", pd.to_datetime(np.tile(t, len(modules)), unit="s", utc=True))
    frame.insert(len(METRIC_FIELDS) + 2, "replicas", replicas)
    return frame


def simulate_history(
    catalog: Catalog,
    *,
    start: datetime,
    days: float,
    step_s: int = 60,
    seed: int = 0,
    incidents: Iterable[Incident] = (),
    replicas: ReplicaSpec | None = None,
    traits: Mapping[str, ModuleTraits] | None = None,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Simulate ``days`` of metrics for every catalog module, one row per module and step.

    Parameters
    ----------
    catalog
        The modules to simulate.
    start
        First instant (naive = UTC).
    days
        Length of the history in days.
    step_s
        Step in seconds (60: one row per minute).
    seed
        Same seed, same frame; noise is a pure function of (seed, module, minute).
    incidents
        Incidents to inject (module names may be short: ``crm``).
    replicas
        Per module (full or short name), a fixed count or one count per step; modules not
        given follow a reactive autoscaler (:func:`reactive_replicas`).
    traits
        Per-module overrides of the workload shape (:mod:`nexus_ml.sim.traits`).
    progress
        Called as ``progress(done, total)`` after each module.

    Returns
    -------
    pandas.DataFrame
        A metric frame (``module``, ``timestamp`` UTC, every metric field) sorted by module
        and timestamp, plus the ground truth ``replicas`` and ``demand_rpm``.

    Raises
    ------
    InputError
        Non-positive ``days`` or ``step_s``, or a replica series of the wrong length.
    NotFoundError
        An incident names an unknown module.
    """
    if not (days > 0 and math.isfinite(days)):
        raise InputError(f"days must be positive, got {days!r}")
    if step_s <= 0:
        raise InputError(f"step_s must be a positive number of seconds, got {step_s!r}")
    resolved = resolve_incidents(catalog, incidents)
    if replicas is not None:  # accept short names, as everywhere else
        replicas = {catalog.get(name).name: count for name, count in replicas.items()}
    t0 = int(as_utc(start).timestamp())
    t = t0 + np.arange(int(days * 86400 // step_s), dtype=np.int64) * step_s
    cal = LocalCalendar.from_epoch(t)
    profiles = sorted(catalog, key=lambda m: m.name)
    computed: list[ModuleSeries] = []
    for done, profile in enumerate(profiles, start=1):
        series = simulate_module(
            profile,
            traits_for(profile.name, traits),
            cal,
            seed=seed,
            incidents=resolved,
            replicas=replicas,
            step_s=step_s,
        )
        computed.append(series)
        if progress is not None:
            progress(done, len(profiles))
    return series_frame([p.name for p in profiles], t, computed)
