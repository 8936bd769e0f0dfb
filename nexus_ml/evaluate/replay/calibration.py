"""Calibration of scale-up confidence: does 0.8 mean right 80 % of the time?

A scale-up's confidence is the model's probability that demand over the start-up lead time
exceeds the capacity in force. It was right when the peak of demanded replicas over
t … t + L did exceed the target in force before the scale-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nexus_ml.evaluate.replay.physics import ReplayResult


@dataclass(frozen=True)
class Calibration:
    confidence: np.ndarray  # one per scale-up decision
    outcome: np.ndarray  # 1 when the demand really exceeded the old capacity
    bins: int = 10

    @property
    def count(self) -> int:
        return int(self.confidence.size)

    def table(self) -> list[tuple[float, float, float, int]]:
        """(bin low, mean confidence, observed frequency, count) for every non-empty bin."""
        edges = np.linspace(0.0, 1.0, self.bins + 1)
        index = np.clip(np.digitize(self.confidence, edges[1:-1]), 0, self.bins - 1)
        rows = []
        for b in range(self.bins):
            mask = index == b
            if mask.any():
                rows.append(
                    (
                        float(edges[b]),
                        float(self.confidence[mask].mean()),
                        float(self.outcome[mask].mean()),
                        int(mask.sum()),
                    )
                )
        return rows

    @property
    def ece(self) -> float:
        """Expected calibration error: count-weighted |confidence − frequency| over bins."""
        if self.count == 0:
            return float("nan")
        return sum(abs(conf - freq) * n for _, conf, freq, n in self.table()) / self.count

    def chance_ece(self, *, draws: int = 200, seed: int = 0) -> tuple[float, float]:
        """ECE a perfectly calibrated confidence would show on these decisions by chance.

        Outcomes are drawn as Bernoulli(confidence) ``draws`` times and binned as the real
        ones; returns (mean, 95th percentile). A finite sample's ECE is above 0 even when the
        confidence is exact, so a figure near this floor is as good as the sample can show.
        """
        if self.count == 0:
            return float("nan"), float("nan")
        rng = np.random.default_rng(seed)
        eces = [
            Calibration(
                self.confidence, (rng.random(self.count) < self.confidence).astype(float), self.bins
            ).ece
            for _ in range(draws)
        ]
        return float(np.mean(eces)), float(np.percentile(eces, 95))


def scale_up_calibration(results: list[ReplayResult], *, bins: int = 10) -> Calibration:
    """Pool the scale-up decisions of several replays."""
    confidences, outcomes = [], []
    for result in results:
        if result.confidences is None:
            continue
        trace = result.trace
        t0, L = trace.start, trace.params.startup_delay
        previous = np.concatenate(([trace.demanded[t0 - 1]], result.targets[:-1]))
        demanded = trace.demanded
        for i in np.flatnonzero(np.isfinite(result.confidences)):
            t = t0 + i
            peak = demanded[t : t + L + 1].max()
            confidences.append(result.confidences[i])
            outcomes.append(float(peak > previous[i]))
    return Calibration(np.asarray(confidences), np.asarray(outcomes), bins)
