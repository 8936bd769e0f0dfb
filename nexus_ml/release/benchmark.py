"""The release-gate benchmark: labelled scenarios through the judge and a fixed-threshold gate.

For each scenario both gates run the same interval analysis; a gate's figures are the share of
correct verdicts, the share of good releases it aborted (false aborts), the share of silent
rollbacks it caught, and how long after each fault's onset it decided.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from nexus_ml.release.analysis import AnalysisResult, AnalysisSettings, Gate, run_analysis
from nexus_ml.release.scenarios import ReleaseScenario
from nexus_ml.release.verdict import VerdictName

GateFactory = Callable[[ReleaseScenario], Gate]

#: Requests per version in one interval from which a +1 point error rate is caught by the first
#: measurement with ~99 % probability (two-proportion z test at alpha 0.05 around a 0.7 % pooled
#: rate: standard error 0.26 points, so the estimate clears both significance and the 0.5 point
#: band unless it falls 2.2 standard errors short). Below it, the bound on abort time cannot be
#: promised by any test: the traffic does not carry the information yet.
MIN_REQUESTS_PER_INTERVAL = 2000


@dataclass(frozen=True)
class Outcome:
    """One scenario through one gate."""

    gate: str
    scenario: str
    kind: str
    module: str
    expected: VerdictName
    result: AnalysisResult
    onset_s: float | None
    requests_per_interval: float = float("nan")

    @property
    def correct(self) -> bool:
        return self.result.verdict == self.expected

    @property
    def latency_s(self) -> float | None:
        """Seconds from the fault's onset to the Failed verdict (``None``: not failed)."""
        decided = self.result.decided_at_s
        if decided is None or self.onset_s is None:
            return None
        return decided - self.onset_s


@dataclass(frozen=True)
class GateSummary:
    """A gate's figures over a scenario set."""

    gate: str
    scenarios: int
    correct: float
    false_aborts: float
    inconclusive: float
    rollbacks_caught: float
    caught_by_kind: dict[str, float]
    max_latency_s: float | None
    within_bound: float
    within_bound_busy: float

    def meets(self, bound_s: float) -> dict[str, bool]:
        """The issue's targets: ≥ 95 % correct, ≤ 5 % false aborts, every silent rollback
        caught, every abort within ``bound_s`` of its fault."""
        return {
            "correct >= 95%": self.correct >= 0.95,
            "false aborts <= 5%": self.false_aborts <= 0.05,
            "silent rollbacks 100%": self.rollbacks_caught == 1.0,
            f"aborts within {bound_s:g}s": self.within_bound == 1.0,
            f"aborts within {bound_s:g}s with enough traffic": self.within_bound_busy == 1.0,
        }


def evaluate(
    scenarios: Sequence[ReleaseScenario],
    gates: Sequence[GateFactory],
    settings: AnalysisSettings = AnalysisSettings(),
) -> list[Outcome]:
    """Run every scenario through every gate (a factory builds a gate for each scenario)."""
    outcomes = []
    for sc in scenarios:
        for factory in gates:
            gate = factory(sc)
            result = run_analysis(
                gate,
                sc.baseline,
                sc.candidate,
                start=sc.start,
                duration_s=sc.duration_s,
                settings=settings,
                status_at=sc.status_at,
            )
            first = sc.baseline.window(sc.start, sc.start + settings.interval_s)
            outcomes.append(
                Outcome(
                    gate.name,
                    sc.name,
                    sc.kind,
                    sc.module,
                    sc.expected,
                    result,
                    sc.onset_s,
                    float(np.nansum(first.values("requests"))),
                )
            )
    return outcomes


def _share(flags: Sequence[bool]) -> float:
    return sum(flags) / len(flags) if flags else float("nan")


def summarise(outcomes: Sequence[Outcome], bound_s: float) -> list[GateSummary]:
    """Per gate: correct share, false aborts of good releases, rollbacks caught, latency."""
    summaries = []
    for gate in sorted({o.gate for o in outcomes}, key=lambda g: g != "judge"):
        mine = [o for o in outcomes if o.gate == gate]
        good = [o for o in mine if o.expected == "Successful"]
        rollbacks = [o for o in mine if o.kind == "silent_rollback"]
        caught = [o for o in mine if o.expected == "Failed" and o.correct]
        known = [o.latency_s for o in caught if o.latency_s is not None]
        busy = [
            o.latency_s
            for o in caught
            if o.latency_s is not None and o.requests_per_interval >= MIN_REQUESTS_PER_INTERVAL
        ]
        kinds = sorted({o.kind for o in mine})
        summaries.append(
            GateSummary(
                gate=gate,
                scenarios=len(mine),
                correct=_share([o.correct for o in mine]),
                false_aborts=_share([o.result.verdict == "Failed" for o in good]),
                inconclusive=_share([o.result.verdict == "Inconclusive" for o in mine]),
                rollbacks_caught=_share([o.result.verdict == "Failed" for o in rollbacks]),
                caught_by_kind={k: _share([o.correct for o in mine if o.kind == k]) for k in kinds},
                max_latency_s=max(known) if known else None,
                within_bound=_share([lat <= bound_s for lat in known]),
                within_bound_busy=_share([lat <= bound_s for lat in busy]),
            )
        )
    return summaries
