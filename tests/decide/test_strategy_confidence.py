"""The scale-up confidence is recalibrated on the outcomes of the strategy's own scale-ups."""

from __future__ import annotations

import numpy as np
import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.decide.strategy import LeadTimeStrategy, Sizing
from nexus_ml.models.calibration import OnlineIsotonicCalibrator
from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk


class Recorder:
    """A calibrator that remembers what it was told and halves every probability."""

    def __init__(self) -> None:
        self.records: list[tuple[float, bool]] = []

    def record(self, raw: float, outcome: bool) -> None:
        self.records.append((raw, outcome))

    def calibrate(self, raw: float) -> float:
        return raw / 2

    def calibrate_many(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(raw, dtype=float) / 2


def test_scale_up_outcomes_feed_the_confidence_calibrator_and_set_the_confidence() -> None:
    profile = load_catalog().get("nexus-crm")
    sizing = Sizing.of(profile)
    rng = np.random.default_rng(3)
    level = 1.5 * sizing.per_replica_rpm
    risk = LeadTimeRisk(lead_time=2, season=60).fit(level * (1 + 0.05 * rng.standard_normal(600)))
    calibrator = Recorder()
    strategy = LeadTimeStrategy(
        risk, sizing, ready_calibrator=OnlineIsotonicCalibrator(), confidence_calibrator=calibrator
    )
    # demand swings around the capacity of two replicas while two are running: the fold
    # proposes scale-ups, and each is judged once its lead-time window has been observed
    swing = level * (1 + 0.45 * np.sin(np.arange(240) / 6.0))
    strategy.observe(swing.tolist(), [2.0] * swing.size)
    assert len(calibrator.records) >= 10
    capacity = 2 * sizing.per_replica_rpm
    outcomes = {outcome for _, outcome in calibrator.records}
    assert outcomes == {True, False}  # some swings crossed the capacity, some did not
    assert all(0.0 <= raw <= 1.0 for raw, _ in calibrator.records)

    # a fresh surge above the capacity of two: the proposal is a scale-up whose confidence
    # is the raw window risk through the calibrator (here: halved)
    strategy.observe([capacity * 1.3] * 3, [2.0] * 3)
    proposal = strategy.propose(2)
    assert proposal.target > 2
    raw = next(e.value for e in proposal.evidence if e.kind == "exceed_probability")
    assert proposal.confidence == pytest.approx(raw / 2, abs=1e-4)
