"""The steps of ``make demo``, as plain functions so later issues can add steps.

Today the demo simulates four weeks of the ERP with a few incidents, summarises each module
and plots one week of demand. Each step takes and returns data; the CLI (``nexus-ml demo``)
only composes them and renders the results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from nexus_ml.catalog import Catalog
from nexus_ml.features.calendar import SAO_PAULO, LocalCalendar
from nexus_ml.sim import (
    BadRelease,
    DemandSurge,
    ErrorBurst,
    Incident,
    LatencyDegradation,
    MemoryLeak,
    SlowDependency,
    simulate_history,
)
from nexus_ml.sim.history import Progress

#: Monday 5 January 2026, 00:00 in São Paulo: 28 days from here cover January's month end.
DEMO_START = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
DEMO_DAYS = 28


@dataclass(frozen=True)
class DemoConfig:
    """What the demo runs: how long, from when, with which seed, and where it writes."""

    days: float = DEMO_DAYS
    seed: int = 0
    start: datetime = DEMO_START
    out_dir: Path = Path("out")


def _local(start: datetime, day: int, hour: float) -> datetime:
    local = start.astimezone(SAO_PAULO).replace(hour=0, minute=0, second=0, microsecond=0)
    return (local + timedelta(days=day, hours=hour)).astimezone(UTC)


def demo_incidents(catalog: Catalog, start: datetime, days: float) -> tuple[Incident, ...]:
    """A handful of incidents spread over the window (only those that fit in it).

    Modules missing from ``catalog`` are skipped, so a custom catalog still runs.
    """
    known = set(catalog.names)
    planned: list[Incident] = [
        ErrorBurst(
            module="nexus-user-management",
            start=_local(start, 1, 15),
            duration=timedelta(minutes=20),
            magnitude=0.25,
        ),
        MemoryLeak(
            module="nexus-agendamento",
            start=_local(start, 8, 8),
            duration=timedelta(hours=10),
            magnitude=0.45,
        ),
        LatencyDegradation(
            module="nexus-crm",
            start=_local(start, 10, 9),
            duration=timedelta(hours=2),
            magnitude=6.0,
        ),
        BadRelease(
            module="nexus-crm",
            start=_local(start, 15, 10),
            duration=timedelta(hours=3),
            magnitude=1.0,
        ),
        DemandSurge(
            module="nexus-user-management",
            start=_local(start, 17, 10),
            duration=timedelta(hours=2),
            magnitude=0.5,
        ),
        SlowDependency(
            module="nexus-crm",
            target="nexus-user-management",
            start=_local(start, 21, 14),
            duration=timedelta(hours=1),
            magnitude=800.0,
        ),
    ]
    end = start + timedelta(days=days)
    return tuple(
        i
        for i in planned
        if i.module in known and getattr(i, "target", i.module) in known and i.overlaps(start, end)
    )


def simulate(
    catalog: Catalog,
    config: DemoConfig,
    incidents: Sequence[Incident],
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Step 1: the simulated history (a metric frame with ground truth)."""
    return simulate_history(
        catalog,
        start=config.start,
        days=config.days,
        seed=config.seed,
        incidents=incidents,
        progress=progress,
    )


def _ratio(num: pd.Series, den: pd.Series) -> float:
    if num.empty or den.empty or den.mean() <= 0:
        return float("nan")
    return float(num.mean() / den.mean())


def summarise(frame: pd.DataFrame, incidents: Sequence[Incident] = ()) -> pd.DataFrame:
    """Step 2: one row per module — demand, its rhythms, replicas, latency, incidents.

    Columns: ``mean_rpm``, ``peak_rpm``, ``business_night_ratio`` (weekdays 09–18 vs 00–06
    local), ``month_end_ratio`` (last three days of a month vs days 10–20; NaN when the
    window has no month end), ``replicas_mean``, ``replicas_max``, ``p95_response_ms``,
    ``mean_error_rate``, ``incidents``.
    """
    rows = []
    for module, group in frame.groupby("module", sort=True):
        t = group["timestamp"].astype("int64").to_numpy() // 1_000_000_000
        cal = LocalCalendar.from_epoch(np.asarray(t, dtype=np.int64))
        demand = group["demand_rpm"].reset_index(drop=True)
        month_end = demand[cal.days_to_month_end < 3]
        mid = demand[(cal.day >= 10) & (cal.day <= 20)]
        kinds = sorted({i.kind for i in incidents if i.module == module})
        rows.append(
            {
                "module": module,
                "mean_rpm": float(demand.mean()),
                "peak_rpm": float(demand.max()),
                "business_night_ratio": _ratio(
                    demand[cal.is_business_hours()], demand[cal.is_night()]
                ),
                "month_end_ratio": _ratio(month_end, mid),
                "replicas_mean": float(group["replicas"].mean()),
                "replicas_max": int(group["replicas"].max()),
                "p95_response_ms": float(group["response_time"].quantile(0.95)),
                "mean_error_rate": float(group["error_rate"].mean()),
                "incidents": ", ".join(kinds),
            }
        )
    return pd.DataFrame(rows)


def plot_demand_week(frame: pd.DataFrame, path: Path, *, days: int = 7) -> Path:
    """Step 3: a PNG of the last ``days`` days of demand per module, with replica capacity.

    One panel per module (local time on the x axis): demand in requests per minute and, dashed,
    what the running replicas can serve at 100 % utilisation.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    end = frame["timestamp"].max()
    week = frame[frame["timestamp"] > end - pd.Timedelta(days=days)]
    modules = sorted(week["module"].unique())
    fig, axes = plt.subplots(len(modules), 1, figsize=(12, 2.6 * len(modules)), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, module in zip(axes, modules, strict=True):
        group = week[week["module"] == module]
        local = group["timestamp"].dt.tz_convert(SAO_PAULO).dt.tz_localize(None)
        ax.plot(local, group["demand_rpm"], lw=0.7, color="tab:blue", label="demand (req/min)")
        if "capacity_rpm" in group:
            ax.step(
                local,
                group["capacity_rpm"],
                where="post",
                lw=1.0,
                ls="--",
                color="tab:orange",
                label="replica capacity",
            )
        ax.set_title(module, loc="left", fontsize=10)
        ax.set_ylabel("req/min")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%a %d %b"))  # type: ignore[no-untyped-call]
    axes[-1].set_xlabel("local time (America/Sao_Paulo)")
    fig.suptitle(f"Simulated demand, last {days} days", fontsize=12)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def with_capacity(frame: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """``frame`` plus ``capacity_rpm``: what the running replicas serve at 100 %."""
    per_replica = frame["module"].map({m.name: m.capacity_rpm_per_replica for m in catalog})
    return frame.assign(capacity_rpm=frame["replicas"] * per_replica)
