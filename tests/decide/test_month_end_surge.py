"""A month-end morning in the simulator: the policy meets the rush before the seed's trigger.

The simulated cluster keeps the catalog minimum of replicas; the seed's rule (CPU above 70 %
for 5 minutes) and the policy (a seasonal forecaster fitted on the week before, then asked each
minute with the recent window as context) watch the same minutes.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.decide.policy import DecisionInputs, decide
from nexus_ml.decide.rules import sustained
from nexus_ml.decide.scaling import replicas_for
from nexus_ml.decide.strategy import LeadTimeStrategy, Sizing
from nexus_ml.decide.window import MetricWindow
from nexus_ml.models.calibration import OnlineIsotonicCalibrator
from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk
from pipelines.train import lead_times_of

CATALOG = load_catalog()
MODULE = "nexus-user-management"
MONTH_END = datetime(2026, 11, 30, tzinfo=UTC)  # a Monday, the last day of the month


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    from nexus_ml.sim import simulate_history

    profile = CATALOG.get(MODULE)
    frame = simulate_history(
        CATALOG,
        start=MONTH_END - timedelta(days=7),
        days=7.6,
        seed=11,
        replicas={MODULE: profile.min_replicas},
    )
    rows = frame[frame["module"] == MODULE].set_index("timestamp").sort_index()
    return rows


def test_month_end_rush_is_met_before_the_seed_trigger_fires(history: pd.DataFrame) -> None:
    profile = CATALOG.get(MODULE)
    start = MONTH_END + timedelta(hours=9)
    lead = lead_times_of(CATALOG)[MODULE]
    strategy = LeadTimeStrategy(
        LeadTimeRisk(lead_time=lead).fit(
            history.loc[: start - timedelta(minutes=1), "requests_per_min"]
        ),
        Sizing.of(profile),
        ready_calibrator=OnlineIsotonicCalibrator(),
    )
    trigger = profile.scale_trigger
    cpu = history["cpu_usage"]

    seed_fires = ours_scales = None
    ours_target_at: dict[datetime, int] = {}
    for minute in range(240):
        now = start + timedelta(minutes=minute)
        seen = history.loc[now - timedelta(minutes=60) : now - timedelta(minutes=1)]
        if seed_fires is None and sustained(
            list(cpu.loc[: now - timedelta(minutes=1)].iloc[-trigger.duration_min :]),
            trigger.threshold,
            trigger.duration_min,
            above=True,
        ):
            seed_fires = now
        window = MetricWindow.from_frame(seen.reset_index().assign(module=MODULE), MODULE)
        strategy.observe([float(seen["requests_per_min"].iloc[-1])])
        d = decide(
            DecisionInputs(
                profile=profile,
                window=window,
                now=now,
                current_replicas=profile.min_replicas,
                strategy=strategy,
            )
        )
        ours_target_at[now] = d.target_replicas
        if ours_scales is None and d.scale_up:
            ours_scales = now
        if seed_fires is not None and ours_scales is not None:
            break

    assert seed_fires is not None, "the simulated rush never tripped the seed's trigger"
    assert ours_scales is not None and ours_scales < seed_fires
    # by the time the seed would act, the replicas the policy asked for carry the demand
    demand = float(history.loc[seed_fires, "requests_per_min"])
    needed = replicas_for(demand, profile.capacity_rpm_per_replica, profile.target_utilisation)
    assert not math.isnan(demand) and needed > profile.min_replicas
    assert ours_target_at[seed_fires] >= needed
    print(f"policy scaled at {ours_scales:%H:%M}, seed trigger at {seed_fires:%H:%M}")
