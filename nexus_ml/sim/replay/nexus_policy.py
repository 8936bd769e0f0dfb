"""``nexus``: our policy in the replay, driven by the real model and the real scaling code.

Each minute it feeds the last observed demand to a :class:`LeadTimeQuantileForecaster`, asks
for the upper quantile of the peak over the start-up lead time, and lets
:func:`nexus_ml.decide.scaling.recommend_replicas` turn that into a target. It sees only what
replay model v1 allows: demand and ready replicas before the current minute.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nexus_ml.decide.scaling import ScalingInputs, ScalingState, recommend_replicas
from nexus_ml.models.confidence import OnlineIsotonicCalibrator
from nexus_ml.models.lead_time import LeadTimeQuantileForecaster
from nexus_ml.sim.replay.policies import Observation

if TYPE_CHECKING:
    from nexus_ml.sim.replay.physics import PreparedTrace


class NexusPolicy:
    name = "nexus"

    def __init__(self, *, level: float = 0.95, scale_down_window: int = 1) -> None:
        self.level = level
        self.scale_down_window = scale_down_window
        self.last_confidence = float("nan")

    def reset(self, trace: PreparedTrace, *, initial_target: int) -> None:
        self.p = trace.params
        self.capacity = trace.capacity
        self.model = LeadTimeQuantileForecaster(
            lead_time=self.p.startup_delay, level=self.level
        ).fit(trace.demand[: trace.start - 1])
        self.seen = trace.start - 1
        self.state = ScalingState()
        self.calibrator = OnlineIsotonicCalibrator()
        self.pending: list[tuple[int, float, float]] = []  # (minute, raw confidence, capacity)

    def _learn_outcomes(self, obs: Observation) -> None:
        """Score past scale-ups whose lead-time window has now been observed."""
        L = self.p.startup_delay
        while self.pending and self.pending[0][0] + L < obs.t:
            t, raw, capacity = self.pending.pop(0)
            peak = float(obs.demand[t : t + L + 1].max())
            self.calibrator.record(raw, peak > capacity)

    def _calibrated_upper(self, current: int) -> float:
        """Demand to provision for: the model's upper quantile, or less when calibration shows
        that scale-ups like this one are rarely needed (calibrated risk within 1 − level)."""
        upper = self.model.predict_upper()
        per_replica = self.capacity * self.p.u_target
        if upper <= current * per_replica:
            return upper
        alpha = 1.0 - self.level
        for k in range(current, self.p.max_replicas + 1):
            risk = self.calibrator.calibrate(self.model.exceed_probability(k * per_replica))
            if risk <= alpha:
                return min(upper, k * per_replica)
        return upper

    def target(self, obs: Observation) -> int:
        if obs.t > self.seen:
            self.model.update(obs.demand[self.seen : obs.t])
            self.seen = obs.t
        self._learn_outcomes(obs)
        upper = self._calibrated_upper(obs.target)
        capacity_now = obs.target * self.capacity * self.p.u_target
        exceed = self.model.exceed_probability(capacity_now)
        rec = recommend_replicas(
            ScalingInputs(
                current_replicas=obs.target,
                capacity=self.capacity,
                target_utilisation=self.p.u_target,
                min_replicas=self.p.min_replicas,
                max_replicas=self.p.max_replicas,
                recent_demand=(float(obs.demand[-1]),),
                forecast_upper=(upper,),
                exceed_probability=exceed,
            ),
            self.state,
            scale_down_window=self.scale_down_window,
        )
        self.state = rec.state
        self.last_confidence = float("nan")
        if rec.target > obs.target:
            self.pending.append((obs.t, exceed, capacity_now))
            self.last_confidence = self.calibrator.calibrate(exceed)
        return rec.target
