"""SPEC Research Group elasticity metrics of a replay (protocol v1)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from nexus_ml.evaluate.replay.physics import ReplayResult


@dataclass(frozen=True)
class ReplayMetrics:
    policy: str
    minutes: int
    theta_u: float  # θ_U, % of demand under-provisioned, averaged over minutes
    theta_o: float  # θ_O
    tau_u: float  # τ_U, % of minutes under-provisioned
    tau_o: float  # τ_O
    overload_minutes: int  # d_t > S_t · c
    overload_minutes_servable: int  # the same, excluding minutes beyond max replicas' capacity
    replica_hours: float
    scale_events: int

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


def score_replay(result: ReplayResult) -> ReplayMetrics:
    trace = result.trace
    t0 = trace.start
    demand_replicas = trace.demanded[t0:].astype(float)
    supply = result.ready.astype(float)
    d = trace.demand[t0:]
    minutes = len(supply)
    under = np.maximum(demand_replicas - supply, 0)
    over = np.maximum(supply - demand_replicas, 0)
    overload = d > supply * trace.capacity
    servable = d <= trace.params.max_replicas * trace.capacity
    previous = np.concatenate(([trace.demanded[t0 - 1]], result.targets[:-1]))
    return ReplayMetrics(
        policy=result.policy,
        minutes=minutes,
        theta_u=float(100.0 / minutes * np.sum(under / demand_replicas)),
        theta_o=float(100.0 / minutes * np.sum(over / demand_replicas)),
        tau_u=float(100.0 / minutes * np.count_nonzero(supply < demand_replicas)),
        tau_o=float(100.0 / minutes * np.count_nonzero(supply > demand_replicas)),
        overload_minutes=int(np.count_nonzero(overload)),
        overload_minutes_servable=int(np.count_nonzero(overload & servable)),
        replica_hours=float(result.cost.sum() / 60.0),
        scale_events=int(np.count_nonzero(result.targets != previous)),
    )
