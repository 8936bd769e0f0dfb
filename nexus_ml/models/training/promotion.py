"""The promotion gate: does a freshly trained challenger replace the current champion?

Pure: it takes backtest scores computed on one shared window and returns a verdict with a
reason a person can read in the run's tags. No MLflow, no files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from nexus_ml.errors import ConfigError
from nexus_ml.models.training.backtest import SeriesScore, pooled


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the gate.

    ``margin``: the challenger's mean MASE must be at most ``(1 - margin)`` times the
    champion's. ``coverage_bounds``: the pooled interval coverage of the challenger must lie in
    this closed range (an 80 % interval covering 30 % or 100 % of outcomes is miscalibrated).
    """

    margin: float = 0.02
    coverage_bounds: tuple[float, float] = (0.5, 0.99)

    def __post_init__(self) -> None:
        if not 0 <= self.margin < 1:
            raise ConfigError(f"gate margin must be in [0, 1), got {self.margin}", field="margin")
        lo, hi = self.coverage_bounds
        if not 0 <= lo <= hi <= 1:
            raise ConfigError(
                f"coverage bounds must satisfy 0 <= lo <= hi <= 1, got {self.coverage_bounds}",
                field="coverage_bounds",
            )


@dataclass(frozen=True)
class Verdict:
    promoted: bool
    reason: str
    challenger_mase: float
    champion_mase: float | None
    challenger_coverage: float


def judge(
    challenger: Mapping[str, SeriesScore],
    champion: Mapping[str, SeriesScore] | None,
    config: GateConfig,
    *,
    detector_ok: bool = True,
    champion_problems: Sequence[str] = (),
) -> Verdict:
    """Apply sanity checks, then the margin test against the champion (when there is one).

    Both mappings are keyed by metric field and were scored on the same window. Only the fields
    both models forecast are compared, so a champion that lacks a field is not penalised.
    ``champion_problems`` lists fields the champion has but could not forecast on this window:
    then nothing shows the challenger is better, and it is not promoted.
    """
    mase, coverage = pooled(list(challenger.values()))
    shared = sorted(set(challenger) & set(champion or {}))
    champ_mase: float | None = None
    if champion and shared:
        champ_mase = pooled([champion[f] for f in shared])[0]

    def reject(reason: str) -> Verdict:
        return Verdict(False, reason, mase, champ_mase, coverage)

    broken = sorted(f for f, s in challenger.items() if not s.finite)
    if broken:
        return reject(f"sanity: non-finite forecasts for {', '.join(broken)}")
    unordered = sorted(f for f, s in challenger.items() if not s.ordered)
    if unordered:
        return reject(
            f"sanity: intervals not ordered (lo <= mean <= hi) for {', '.join(unordered)}"
        )
    lo, hi = config.coverage_bounds
    if not lo <= coverage <= hi:
        return reject(f"sanity: coverage {coverage:.3f} outside [{lo:g}, {hi:g}]")
    if not detector_ok:
        return reject("sanity: anomaly scores not finite or outside [0, 1]")
    if champion_problems:
        return reject(f"champion cannot be scored on this window ({'; '.join(champion_problems)})")
    if champ_mase is None:
        why = "no champion yet" if not champion else "champion shares no forecast field"
        return Verdict(True, why, mase, None, coverage)
    chall_mase = pooled([challenger[f] for f in shared])[0]
    if not math.isfinite(champ_mase):
        return Verdict(
            True, "champion forecasts are not finite on this window", mase, champ_mase, coverage
        )
    bar = champ_mase * (1 - config.margin)
    if chall_mase <= bar:
        return Verdict(
            True,
            f"MASE {chall_mase:.4f} beats champion {champ_mase:.4f} "
            f"by the {config.margin:.0%} margin",
            chall_mase,
            champ_mase,
            coverage,
        )
    return Verdict(
        False,
        f"MASE {chall_mase:.4f} does not beat champion {champ_mase:.4f} by the "
        f"{config.margin:.0%} margin (needs <= {bar:.4f})",
        chall_mase,
        champ_mase,
        coverage,
    )
