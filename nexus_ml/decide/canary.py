"""Post-deploy regression test against the pre-deploy baseline (pure, no I/O).

This follows Kayenta's canary judge (NetflixACAClassifier with the Mann-Whitney classifier):
each metric's post-deploy sample is compared with the baseline sample by a two-sided
Mann-Whitney U test; a significant difference in the harmful direction that is also larger than
an allowed effect (a ratio of medians) fails the metric. The canary score is the share of
metrics that pass; a failed critical metric fails the release whatever the score.

A ratio of medians alone is a threshold on noise for a metric whose minute-to-minute spread
is itself larger than the allowed effect (an error rate of 0.2 % wanders by ±30 % from one
minute to the next): a few noisy minutes after the deploy pass both the test and the ratio.
So the shift of the median must also exceed the baseline's own spread (``noise_multiple``
robust standard deviations, 1.4826 × MAD): a regression is a change larger than the metric's
normal variation, whatever its scale. And a ratio of tiny error rates (0.16 % → 0.27 %) is a
real but immaterial change: ratios are taken against at least a floor per metric
(``floor``: half a percentage point of errors, a tenth of the seed rule's 5 % unhealthy rate).

The first minute after the deploy is neither sample (Spinnaker's ``beginCanaryAnalysisAfterMins``,
the canary's warm-up): a per-minute rate sampled then still averages mostly the old version (the
bundled recording rules take rates over one minute, and a sample lands up to a scrape later).
Counted as the release's, that old-version minute sits among the baseline's ranks and weakens
the test exactly when the sample is smallest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from statistics import median

from scipy.stats import mannwhitneyu

from nexus_ml.decide.window import finite
from nexus_ml.domain import ErrorType


class Verdict(StrEnum):
    PASS = "pass"
    HIGH = "high"  # significantly higher than the baseline
    LOW = "low"
    NODATA = "nodata"


@dataclass(frozen=True)
class MetricJudgement:
    metric: str
    verdict: Verdict
    p_value: float | None
    baseline_median: float | None
    canary_median: float | None
    critical: bool

    @property
    def failed(self) -> bool:
        # only an increase hurts for the metrics judged here (errors, latency)
        return self.verdict is Verdict.HIGH


@dataclass(frozen=True)
class CanaryConfig:
    alpha: float = 0.05  # significance of the Mann-Whitney test
    allowed_increase: float = 1.2  # canary/baseline median ratio tolerated (Kayenta effect size)
    min_samples: int = 5
    # seconds after the deploy that belong to neither sample (the metrics' own lag)
    warmup_s: float = 60.0
    # the median's shift must exceed this many robust standard deviations of the baseline
    noise_multiple: float = 3.0
    # ratios are taken against at least this baseline (a rise from 0.1 % to 0.3 % errors is
    # tripled but immaterial; from 0.5 % up the ratio counts)
    floor: Mapping[str, float] = field(default_factory=lambda: {"error_rate": 0.005})
    pass_score: float = 75.0  # Kayenta's default "marginal" threshold
    critical: tuple[str, ...] = ("error_rate",)

    @property
    def ready_after_s(self) -> float:
        """The release's age at which the canary can first be judged (one sample a minute)."""
        return self.warmup_s + 60.0 * self.min_samples


@dataclass(frozen=True)
class CanaryReport:
    judgements: tuple[MetricJudgement, ...]
    score: float  # 0..100, share of judged metrics that pass
    regression: bool
    error_type: ErrorType | None  # what the regression looks like, for the rollback scope

    @property
    def nodata(self) -> bool:
        """Too few samples to judge any metric: neither a pass nor a failure."""
        return all(j.verdict is Verdict.NODATA for j in self.judgements)

    def summary(self) -> str:
        if self.nodata:
            return "canary: too few minutes to judge"
        failed = [j for j in self.judgements if j.failed]
        if not failed:
            return f"canary score {self.score:.0f}: no regression"
        parts = ", ".join(
            f"{j.metric} {j.baseline_median:.3g} → {j.canary_median:.3g} (p={j.p_value:.2g})"
            for j in failed
        )
        return f"canary score {self.score:.0f}: regression in {parts}"


def robust_sd(values: Sequence[float]) -> float:
    """1.4826 × the median absolute deviation: the standard deviation for normal noise."""
    centre = median(values)
    return 1.4826 * float(median(abs(v - centre) for v in values))


def judge_metric(
    metric: str,
    baseline: Sequence[float],
    canary: Sequence[float],
    *,
    config: CanaryConfig = CanaryConfig(),
) -> MetricJudgement:
    """Compare one metric's post-deploy sample with its baseline sample."""
    base, can = finite(baseline), finite(canary)
    critical = metric in config.critical
    if len(base) < config.min_samples or len(can) < config.min_samples:
        return MetricJudgement(metric, Verdict.NODATA, None, None, None, critical)
    base_med, can_med = float(median(base)), float(median(can))
    if base == can or (min(base) == max(base) == min(can) == max(can)):
        return MetricJudgement(metric, Verdict.PASS, 1.0, base_med, can_med, critical)
    p = float(mannwhitneyu(can, base, alternative="two-sided").pvalue)
    verdict = Verdict.PASS
    if p < config.alpha:
        # a tiny baseline (zero errors) makes ratios meaningless: compare against a floor
        ratio = can_med / max(base_med, config.floor.get(metric, 0.0), 1e-9) if can_med > 0 else 0.0
        beyond_noise = abs(can_med - base_med) > config.noise_multiple * robust_sd(base)
        if can_med > base_med and ratio > config.allowed_increase and beyond_noise:
            verdict = Verdict.HIGH
        elif can_med < base_med and ratio < 1 / config.allowed_increase and beyond_noise:
            verdict = Verdict.LOW
    return MetricJudgement(metric, verdict, p, base_med, can_med, critical)


def judge_canary(
    baseline: Mapping[str, Sequence[float]],
    canary: Mapping[str, Sequence[float]],
    *,
    config: CanaryConfig = CanaryConfig(),
) -> CanaryReport:
    """Judge every metric present in both samples and score the release.

    Parameters
    ----------
    baseline, canary
        Per-metric samples (e.g. ``error_rate``, ``response_time``) before and after the
        deploy.
    """
    judgements = tuple(
        judge_metric(metric, baseline[metric], canary[metric], config=config)
        for metric in sorted(set(baseline) & set(canary))
    )
    judged = [j for j in judgements if j.verdict is not Verdict.NODATA]
    if not judged:
        return CanaryReport(judgements, 100.0, False, None)
    score = 100.0 * sum(1 for j in judged if not j.failed) / len(judged)
    critical_failed = any(j.failed and j.critical for j in judged)
    regression = critical_failed or score < config.pass_score
    error_type = None
    if regression:
        failed = {j.metric for j in judged if j.failed}
        error_type = (
            ErrorType.ERROR_BURST if "error_rate" in failed else ErrorType.PERFORMANCE_DEGRADATION
        )
    return CanaryReport(judgements, score, regression, error_type)
