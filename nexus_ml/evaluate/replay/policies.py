"""Reference autoscaling policies of replay model v1 (the seam is in ``observation.py``).

A policy sees, at the start of minute t, everything before t: demand d_k and ready replicas S_k
for k < t (utilisation u_k = d_k / (S_k · c)), and its own current target.
"""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING

from nexus_ml.evaluate.replay.observation import Observation

if TYPE_CHECKING:
    from nexus_ml.evaluate.replay.physics import PreparedTrace


class _Base:
    name = "base"

    def reset(self, trace: PreparedTrace, *, initial_target: int) -> None:
        self.trace = trace
        self.p = trace.params
        self.c = trace.capacity

    def utilisation(self, obs: Observation, k: int) -> float:
        return float(obs.demand[k] / (max(obs.ready[k], 1e-9) * self.c))


class StaticPeak(_Base):
    name = "static_peak"

    def reset(self, trace: PreparedTrace, *, initial_target: int) -> None:
        super().reset(trace, initial_target=initial_target)
        self.peak = int(trace.demanded[: trace.start].max())

    def target(self, obs: Observation) -> int:
        return self.peak


class Hpa(_Base):
    """Kubernetes HPA on a 1-minute loop: tolerance 0.1, scale-up limit, 5-minute stabilisation."""

    name = "hpa"
    tolerance = 0.1
    window = 5

    def reset(self, trace: PreparedTrace, *, initial_target: int) -> None:
        super().reset(trace, initial_target=initial_target)
        self.desired_history: deque[int] = deque(maxlen=self.window)

    def target(self, obs: Observation) -> int:
        current = obs.target
        k = obs.t - 1
        ratio = self.utilisation(obs, k) / self.p.u_target
        if abs(ratio - 1.0) <= self.tolerance:
            desired = current
        else:
            desired = math.ceil(obs.ready[k] * ratio - 1e-9)
        desired = min(desired, max(2 * current, current + 4))
        desired = max(self.p.min_replicas, min(self.p.max_replicas, desired))
        self.desired_history.append(desired)
        down = max(self.desired_history)  # scale down only to the max of the window
        if current < desired:
            return desired
        if current > down:
            return down
        return current


class SeedRule(_Base):
    """The seed's reactive rule: +1 after 5 hot minutes, −1 after 10 cold ones."""

    name = "seed_rule"

    def reset(self, trace: PreparedTrace, *, initial_target: int) -> None:
        super().reset(trace, initial_target=initial_target)
        self.last_change = -(10**9)

    def target(self, obs: Observation) -> int:
        t, current = obs.t, obs.target
        since = t - self.last_change
        hot = all(self.utilisation(obs, k) > 0.70 for k in range(t - 5, t))
        cold = all(self.utilisation(obs, k) < 0.35 for k in range(t - 10, t))
        new = current
        if hot and since > 5:
            new = current + 1
        elif cold and since > 10:
            new = current - 1
        new = max(self.p.min_replicas, min(self.p.max_replicas, new))
        if new != current:
            self.last_change = t
        return new


class CraneEhpa(Hpa):
    """Crane's predictive HPA, simplified: 7-day same-window peak + 10 %, next to the HPA."""

    name = "crane_ehpa"

    def target(self, obs: Observation) -> int:
        hpa_target = super().target(obs)
        t, d, L = obs.t, obs.demand, self.p.startup_delay
        peaks = []
        for k in range(1, 8):
            lo, hi = max(0, t - 1440 * k - 5), min(t, t - 1440 * k + L + 9 + 1)
            if hi > lo:
                peaks.append(float(d[lo:hi].max()))
        predicted = max(1.1 * max(peaks, default=0.0), float(d[t - 1]))
        return max(math.ceil(predicted / (self.c * self.p.u_target) - 1e-9), hpa_target)


class Oracle(_Base):
    """Knows the future: max(D_t … D_{t+L}). The practical limit."""

    name = "oracle"

    def target(self, obs: Observation) -> int:
        t, D = obs.t, self.trace.demanded
        return int(D[t : t + self.p.startup_delay + 1].max())
