"""The physics of replay model v1: targets → ready and starting replicas, minute by minute.

At the start of minute t a policy sets an integer target, clamped to [min, max]. Decreases take
effect at t (starting replicas are cancelled first, newest first); increases start at t and are
ready at t + L. Ready replicas S_t serve minute t; the cost of a minute is ready + starting.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nexus_ml.errors import InputError
from nexus_ml.evaluate.replay.observation import Observation, Policy


@dataclass(frozen=True)
class ReplayParams:
    u_target: float = 0.70
    peak_replicas: int = 6
    min_replicas: int = 1
    max_replicas: int = 12
    startup_delay: int = 2  # L, minutes
    history_days: int = 7

    @property
    def history_minutes(self) -> int:
        return self.history_days * 1440


@dataclass(frozen=True)
class PreparedTrace:
    """A trace ready to replay: demand d, replicas demanded D, capacity per replica c."""

    timestamps: pd.DatetimeIndex
    demand: np.ndarray  # d_t
    demanded: np.ndarray  # D_t
    capacity: float  # c
    params: ReplayParams

    @property
    def start(self) -> int:
        return self.params.history_minutes


@dataclass(frozen=True)
class ReplayResult:
    trace: PreparedTrace
    targets: np.ndarray  # per scored minute
    ready: np.ndarray  # S_t per scored minute
    cost: np.ndarray  # ready + starting per scored minute
    policy: str
    confidences: np.ndarray | None = None  # per scored minute, NaN where the policy gave none

    def targets_frame(self) -> pd.DataFrame:
        ts = self.trace.timestamps[self.trace.start :]
        return pd.DataFrame(
            {"timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "replicas": self.targets}
        )


def prepare_trace(demand: pd.Series, params: ReplayParams | None = None) -> PreparedTrace:
    """Capacity and demanded replicas of a 1-minute demand series (protocol v1)."""
    params = params or ReplayParams()
    d = demand.to_numpy(dtype=float)
    if len(d) <= params.history_minutes:
        raise InputError(
            f"trace {demand.name!r} has {len(d)} minutes; replay needs more than the "
            f"{params.history_minutes}-minute history",
        )
    q99 = float(np.quantile(d[: params.history_minutes], 0.99))
    if not math.isfinite(q99) or q99 <= 0:
        raise InputError(f"trace {demand.name!r}: the history's 99th percentile is {q99}")
    capacity = q99 / (params.u_target * params.peak_replicas)
    demanded = np.maximum(params.min_replicas, np.ceil(d / (capacity * params.u_target) - 1e-9))
    return PreparedTrace(
        timestamps=pd.DatetimeIndex(demand.index),
        demand=d,
        demanded=demanded.astype(int),
        capacity=capacity,
        params=params,
    )


def replay(trace: PreparedTrace, policy: Policy) -> ReplayResult:
    """Run ``policy`` over the scored period of ``trace``."""
    p = trace.params
    t0, n = trace.start, len(trace.demand)
    ready_hist = trace.demanded.astype(float).copy()  # S_k; before t0 as if perfectly served
    ready = int(trace.demanded[t0 - 1])
    target = ready
    starting: deque[tuple[int, int]] = deque()  # (ready_at, count), oldest first
    targets = np.empty(n - t0, dtype=int)
    cost = np.empty(n - t0, dtype=int)
    confidences = np.full(n - t0, np.nan)
    policy.reset(trace, initial_target=target)
    for t in range(t0, n):
        obs = Observation(t=t, demand=trace.demand[:t], ready=ready_hist[:t], target=target)
        proposed = policy.target(obs)
        target = max(p.min_replicas, min(p.max_replicas, int(proposed)))
        in_flight = sum(c for _, c in starting)
        if target < ready + in_flight:
            excess = ready + in_flight - target
            while excess and starting:  # cancel starting replicas first, newest first
                at, count = starting.pop()
                cancel = min(count, excess)
                excess -= cancel
                if count > cancel:
                    starting.append((at, count - cancel))
            ready -= excess
        elif target > ready + in_flight:
            starting.append((t + p.startup_delay, target - ready - in_flight))
        while starting and starting[0][0] <= t:
            ready += starting.popleft()[1]
        i = t - t0
        targets[i] = target
        ready_hist[t] = ready
        cost[i] = ready + sum(c for _, c in starting)
        confidences[i] = getattr(policy, "last_confidence", np.nan)
    return ReplayResult(
        trace=trace,
        targets=targets,
        ready=ready_hist[t0:].astype(int),
        cost=cost,
        policy=policy.name,
        confidences=confidences,
    )
