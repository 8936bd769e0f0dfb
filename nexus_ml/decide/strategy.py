"""The scaling strategy: the replica count of least expected cost over the start-up lead time.

This is the one scaling method of nexus-ml: the decision service, the demo loop and the replay
benchmark all size replicas through :class:`LeadTimeStrategy` (via
:func:`nexus_ml.decide.policy.decide`). It is pure computation — no I/O — over a risk model
(:class:`RiskModel`, the champion's
:class:`~nexus_ml.models.forecast.lead_time_risk.LeadTimeRisk`) and calibrators that
learn how often past scale-ups were really needed (at the ready minute, over the window).

The count k of least expected cost minimises ``k + under_cost · risk(k)``, where an
under-provisioned minute is worth ``under_cost`` replica-minutes (the operator's one setting):

* holding or shrinking to k caps every minute of the lead-time window at k, so risk(k) is
  P(peak demand over the window > what k replicas serve at target utilisation);
* growing to k cannot help the minutes before the new replicas are ready: risk(k) is the risk
  that stays (the current capacity falling short before then) plus P(demand at the ready minute
  > what k serves), recalibrated on the outcomes of past scale-ups (isotonic).

State is a fold over the observed minutes (:meth:`LeadTimeStrategy.observe`): the risk model's
online updates, the calibrator's outcomes and the scale-down stabilisation all depend only on
the demand and replica counts observed, never on what a previous call proposed. Two service
replicas that observed the same minutes propose the same target.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from nexus_ml.catalog import ModuleProfile
from nexus_ml.decide.scaling import replicas_for
from nexus_ml.domain import Evidence
from nexus_ml.errors import InputError, ModelError

# Replica-minutes an under-provisioned minute is worth: the operator's preference along the
# cost/shortage frontier. Chosen as a stated rule, not scored on any trace: a minute short of
# capacity degrades every user of the module, a spare replica-minute costs one container's
# share of a node; 20 prices the first at a third of a replica-hour.
UNDER_COST = 20.0

# Minutes a scale-down waits for the proposals of the last minutes to agree (the HPA's default
# stabilisation of 5 minutes, taken as is).
SCALE_DOWN_WINDOW = 5


def break_even_confidence(under_cost: float = UNDER_COST) -> float:
    """The probability of need above which one more replica lowers the expected cost.

    Adding a replica costs one replica-minute per minute and saves ``under_cost`` times the
    risk it removes, so a scale-up pays when that risk is above ``1 / under_cost``. The
    executor's default bar for scale-ups is this value, so that the bar and the strategy agree.
    """
    if under_cost <= 1:
        raise InputError(f"under_cost must be above 1, got {under_cost!r}")
    return 1.0 / under_cost


class RiskModel(Protocol):
    """What the strategy reads from the risk model (see ``LeadTimeRisk``)."""

    lead_time: int

    def update(self, y_new: Iterable[float]) -> Any: ...

    def window_risk(self, thresholds: np.ndarray) -> np.ndarray: ...

    def ready_risk(self, thresholds: np.ndarray) -> np.ndarray: ...

    def predict_upper(self) -> float: ...


class Calibrator(Protocol):
    def record(self, raw: float, outcome: bool) -> None: ...

    def calibrate(self, raw: float) -> float: ...

    def calibrate_many(self, raw: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class Sizing:
    """A module's replica bounds and what one replica serves at target utilisation (rpm)."""

    min_replicas: int
    max_replicas: int
    per_replica_rpm: float

    @classmethod
    def of(cls, profile: ModuleProfile) -> Sizing:
        """A catalog module's bounds and per-replica capacity at its target utilisation."""
        return cls(
            min_replicas=profile.min_replicas,
            max_replicas=profile.max_replicas,
            per_replica_rpm=profile.capacity_rpm_per_replica * profile.target_utilisation,
        )

    def replicas_for(self, demand: float) -> int:
        """Replicas that serve ``demand`` at target utilisation."""
        return replicas_for(demand, self.per_replica_rpm, 1.0)


@dataclass(frozen=True)
class ScaleProposal:
    """The strategy's replica target for now, with its confidence and evidence."""

    target: int
    raw_target: int  # before the scale-down stabilisation
    confidence: float
    evidence: tuple[Evidence, ...]


class LeadTimeStrategy:
    """The least-expected-cost replica target, folded over the observed minutes.

    Parameters
    ----------
    risk
        A fitted risk model; the strategy owns it from now on (pass a copy of a champion's).
    sizing
        The module's bounds and per-replica capacity at target utilisation.
    ready_calibrator
        Learns P(demand at the ready minute > capacity | raw risk) from the outcomes of past
        scale-ups (the cost of growing).
    confidence_calibrator
        Learns P(peak demand over the lead-time window > capacity | raw window risk) from the
        same scale-ups; the confidence of a scale-up is the raw window risk mapped through it
        (None: the raw risk). The engine passes an :class:`OnlinePlattCalibrator`: on
        simulated ERP traces (seeds 123 and 321, three modules, 14 days each) the ECE of the
        scale-up confidence was 0.024 with it, 0.033 raw and 0.043 with an isotonic map.
    observed_until
        The time of the last observation the risk model has seen (None: unknown).
    under_cost, scale_down_window
        See :data:`UNDER_COST` and :data:`SCALE_DOWN_WINDOW`.
    """

    def __init__(
        self,
        risk: RiskModel,
        sizing: Sizing,
        *,
        ready_calibrator: Calibrator,
        confidence_calibrator: Calibrator | None = None,
        observed_until: datetime | None = None,
        under_cost: float = UNDER_COST,
        scale_down_window: int = SCALE_DOWN_WINDOW,
    ) -> None:
        if under_cost <= 1:
            raise InputError(f"under_cost must be above 1, got {under_cost!r}")
        if scale_down_window < 1:
            raise InputError(f"scale_down_window must be >= 1, got {scale_down_window!r}")
        self.risk = risk
        self.sizing = sizing
        self.ready_calibrator = ready_calibrator
        self.confidence_calibrator = confidence_calibrator
        self.observed_until = observed_until
        self.under_cost = under_cost
        self.lead = int(risk.lead_time)
        self._minute = 0  # minutes observed by this fold
        self._demand: deque[float] = deque(maxlen=self.lead + 2)
        self._replicas: int | None = None  # the last replica count observed, if any
        # (minute, raw window risk, raw ready risk, capacity) of the scale-ups not yet judged
        self._pending: deque[tuple[int, float, float, float]] = deque()
        self._raw_targets: deque[int] = deque(maxlen=scale_down_window)
        self._least_cache: tuple[int, int, tuple[int, float, float]] | None = None

    # -- the fold -------------------------------------------------------------------------
    def observe(
        self,
        demand: Sequence[float],
        replicas: Sequence[float] = (),
        *,
        until: datetime | None = None,
    ) -> None:
        """Fold observed minutes in, oldest first (NaN demand: carried forward; NaN or missing
        replicas: the last known count). ``until`` is the time of the last of them."""
        for i, value in enumerate(demand):
            count = replicas[i] if i < len(replicas) else math.nan
            self._step(float(value), float(count))
        if until is not None:
            self.observed_until = until

    def _step(self, value: float, count: float) -> None:
        if not math.isfinite(value):
            value = self._demand[-1] if self._demand else 0.0
        if math.isfinite(count):
            self._replicas = round(count)
        self.risk.update([value])
        self._minute += 1
        self._demand.append(value)
        self._judge_pending()
        # Without observed counts (a source that does not report them), the count the last
        # minute needed stands in for the running one: a deterministic function of the data.
        running = self._replicas if self._replicas is not None else self._need_now()
        current = min(max(running, self.sizing.min_replicas), self.sizing.max_replicas)
        raw, window_raw, ready_raw = self._least_cost(current)
        raw = max(raw, self._need_now())
        self._raw_targets.append(raw)
        if raw > current:
            capacity = current * self.sizing.per_replica_rpm
            self._pending.append((self._minute, window_raw, ready_raw, capacity))

    def _judge_pending(self) -> None:
        """Record the outcome of scale-ups whose lead-time window has now been observed."""
        lead = self.lead
        while self._pending and self._pending[0][0] + lead + 1 <= self._minute:
            minute, window_raw, ready_raw, capacity = self._pending.popleft()
            back = self._minute - minute  # the window is the last `lead + 1` minutes
            window = list(self._demand)[-back:][: lead + 1]
            self.ready_calibrator.record(ready_raw, window[-1] > capacity)
            if self.confidence_calibrator is not None:
                self.confidence_calibrator.record(window_raw, max(window) > capacity)

    # -- the proposal ---------------------------------------------------------------------
    def _least_cost(self, current: int) -> tuple[int, float, float]:
        """(count of least expected cost, raw window risk and raw ready risk at ``current``)."""
        cached = self._least_cache
        if cached is not None and cached[:2] == (self._minute, current):
            return cached[2]  # the fold just computed it for this minute and count
        result = self._compute_least_cost(current)
        self._least_cache = (self._minute, current, result)
        return result

    def _compute_least_cost(self, current: int) -> tuple[int, float, float]:
        s = self.sizing
        ks = np.arange(s.min_replicas, s.max_replicas + 1)
        risk = np.asarray(self.risk.window_risk(ks * s.per_replica_rpm), dtype=float)
        if not np.isfinite(risk).all():
            raise ModelError("the risk model gave probabilities that are not finite")
        held_at = ks == current
        held = float(risk[held_at][0]) if held_at.any() else 1.0
        # When even the largest count is likely short, every cost is the same shortage and the
        # minimum would win: never provision below the median peak (or the maximum).
        covered = ks[risk <= 0.5]
        up = ks > current
        raw_ready = self.risk.ready_risk(np.r_[current, ks[up]] * s.per_replica_rpm)
        ready_raw = float(raw_ready[0])
        if up.any():
            ready = self.ready_calibrator.calibrate_many(np.asarray(raw_ready, dtype=float))
            risk[up] = max(held - float(ready[0]), 0.0) + ready[1:]
        cost = ks + self.under_cost * risk
        least = int(ks[int(np.argmin(cost))])
        median_need = int(covered[0]) if covered.size else s.max_replicas
        return max(least, median_need), held, ready_raw

    def _need_now(self) -> int:
        """Never below what the last observed minute needed."""
        last = self._demand[-1] if self._demand else 0.0
        return min(self.sizing.replicas_for(last), self.sizing.max_replicas)

    def propose(self, current: int) -> ScaleProposal:
        """The target for a module running ``current`` replicas now."""
        s = self.sizing
        current = min(max(current, s.min_replicas), s.max_replicas)
        least, window_raw, _ = self._least_cost(current)
        raw = max(least, self._need_now())
        target = raw
        capacity = current * s.per_replica_rpm
        upper = self.risk.predict_upper()
        evidence = [
            Evidence(
                kind="exceed_probability",
                detail=(
                    f"P(demand > {capacity:.0f} rpm, the capacity of {current} replicas) "
                    f"within the {self.lead + 1}-minute lead time"
                ),
                value=round(window_raw, 4),
            ),
            Evidence(
                kind="forecast_peak",
                detail=f"lead-time peak demand, upper bound {upper:.0f} rpm",
                value=round(upper, 2),
            ),
        ]
        if raw < current:
            stabilised = min(current, max((raw, *self._raw_targets)))
            if stabilised > raw:
                evidence.append(
                    Evidence(
                        kind="guard",
                        detail=(
                            f"scale-down to {raw} stabilised at {stabilised}: the last "
                            f"{len(self._raw_targets)} min needed up to {stabilised}"
                        ),
                        value=float(raw),
                    )
                )
            target = stabilised
        if target > current:
            confidence = (
                self.confidence_calibrator.calibrate(window_raw)
                if self.confidence_calibrator is not None
                else window_raw
            )
            evidence.append(
                Evidence(
                    kind="scaling",
                    detail=(
                        f"least expected cost at {target} replicas (a minute short of capacity "
                        f"costs {self.under_cost:g} replica-minutes)"
                    ),
                    value=float(target),
                )
            )
        elif target < current:
            freed = float(self.risk.window_risk(np.asarray([target * s.per_replica_rpm]))[0])
            confidence = 1.0 - freed
            evidence.append(
                Evidence(
                    kind="scaling",
                    detail=f"{target} replicas suffice with probability {confidence:.2f}",
                    value=float(target),
                )
            )
        else:
            confidence = 1.0 - window_raw
        return ScaleProposal(target, raw, min(max(confidence, 0.0), 1.0), tuple(evidence))
