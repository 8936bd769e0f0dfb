"""The release judge: candidate against baseline, metric by metric, then one verdict.

Kayenta's shape, Argo's vocabulary. Each configured metric is compared with a test in its bad
direction and an effect-size band: a metric fails only when the change is both significant
(p < alpha) and larger than allowed, so a real but harmless shift (a few percent of latency)
does not block a release, and noise does not either. The verdict comes from the weighted share
of passing metrics (pass and marginal thresholds), critical metrics, missing data, and, before
any metric, the cluster's release status (a Swarm rollback fails the release whatever the
metrics say). Pure: no I/O, no clock.
"""

from __future__ import annotations

import fnmatch
import math
from datetime import datetime

import numpy as np

from nexus_ml.release.config import DEFAULT_CONFIG, JudgeConfig, MetricCheck
from nexus_ml.release.samples import FloatArray, MetricSamples, Series
from nexus_ml.release.stats import (
    Alternative,
    hodges_lehmann_shift,
    mann_whitney_p,
    two_proportion_p,
)
from nexus_ml.release.verdict import (
    Comparison,
    MetricResult,
    ReleaseStatus,
    Verdict,
    VerdictName,
)

_ALTERNATIVE: dict[str, Alternative] = {
    "increase": "greater",
    "decrease": "less",
    "either": "two-sided",
}


def _finite(values: FloatArray) -> tuple[FloatArray, int]:
    keep = np.isfinite(values)
    return values[keep], int((~keep).sum())


def _bad_part(check: MetricCheck, shift: float) -> float:
    """How far ``shift`` goes in the bad direction (≤ 0: not bad at all)."""
    if check.direction == "increase":
        return shift
    if check.direction == "decrease":
        return -shift
    return abs(shift)


def _no_data(check: MetricCheck, name: str, why: str, **counts: int) -> MetricResult:
    return MetricResult(
        name=name,
        kind=check.kind,
        status="nodata",
        comparison="nodata",
        allowed_effect=check.allowed_effect,
        weight=check.weight,
        critical=check.critical,
        reason=why,
        **counts,
    )


def _compare(check: MetricCheck, failed: bool, shift: float) -> Comparison:
    if not failed:
        return "same"
    if check.direction == "either":
        return "higher" if shift > 0 else "lower"
    return "higher" if check.direction == "increase" else "lower"


def judge_continuous(
    check: MetricCheck, name: str, baseline: FloatArray, candidate: FloatArray, alpha: float
) -> MetricResult:
    """Mann–Whitney U in the bad direction and the Hodges–Lehmann shift against the band."""
    b, dropped_b = _finite(baseline)
    c, dropped_c = _finite(candidate)
    counts = {"n_baseline": len(b), "n_candidate": len(c), "nan_dropped": dropped_b + dropped_c}
    if len(b) < check.min_samples or len(c) < check.min_samples:
        return _no_data(
            check,
            name,
            f"too few finite samples (baseline {len(b)}, candidate {len(c)}; "
            f"need {check.min_samples} each, {dropped_b + dropped_c} NaN dropped)",
            **counts,
        )
    p = mann_whitney_p(b, c, _ALTERNATIVE[check.direction])
    shift = hodges_lehmann_shift(b, c)
    median_b, median_c = float(np.median(b)), float(np.median(c))
    scale = abs(median_b)
    effect = shift / scale if scale > 0 else (0.0 if shift == 0 else math.copysign(math.inf, shift))
    allowed = max(check.allowed_effect * scale, check.allowed_abs)
    bad = _bad_part(check, shift)
    failed = p < alpha and bad > allowed
    pct = f"{effect:+.1%}" if math.isfinite(effect) else "from a zero median"
    if failed:
        reason = (
            f"candidate shifted {pct} ({shift:+.4g}) beyond the allowed "
            f"{check.allowed_effect:.0%} / {check.allowed_abs:g}; p={p:.2g} < {alpha:g}"
        )
    elif p >= alpha:
        reason = f"no significant {check.direction} (p={p:.2g}); shift {pct}"
    else:
        reason = f"significant but within the allowed band: shift {pct} ({shift:+.4g})"
    return MetricResult(
        name=name,
        kind="continuous",
        status="fail" if failed else "pass",
        comparison=_compare(check, failed, shift),
        p_value=p,
        effect=effect if math.isfinite(effect) else None,
        shift=shift,
        allowed_effect=check.allowed_effect,
        baseline=median_b,
        candidate=median_c,
        weight=check.weight,
        critical=check.critical,
        reason=reason,
        **counts,
    )


def _pairs(x: Series | None, n: Series | None) -> tuple[float, float, int, int]:
    """Sums of numerator and denominator over the scrapes where both have a finite value.

    Rows are matched by timestamp (one scrape gives both counts); series that share no
    timestamp at all are summed each on its own. Returns (x, n, rows used, rows dropped).
    """
    if x is None or n is None:
        return 0.0, 0.0, 0, 0
    common, ix, i_n = np.intersect1d(x.t, n.t, assume_unique=False, return_indices=True)
    if len(common):
        vx, vn = x.v[ix], n.v[i_n]
        keep = np.isfinite(vx) & np.isfinite(vn)
        unmatched = len(x.t) + len(n.t) - 2 * len(common)
        return (
            float(vx[keep].sum()),
            float(vn[keep].sum()),
            int(keep.sum()),
            int((~keep).sum()) + unmatched,
        )
    fx, dx = _finite(x.v)
    fn, dn = _finite(n.v)
    return float(fx.sum()), float(fn.sum()), min(len(fx), len(fn)), dx + dn


def judge_proportion(
    check: MetricCheck, baseline: MetricSamples, candidate: MetricSamples, alpha: float
) -> MetricResult:
    """Two-proportion z test of ``numerator / denominator`` in the bad direction."""
    assert check.numerator is not None and check.denominator is not None
    xb, nb, rows_b, drop_b = _pairs(
        baseline.series.get(check.numerator), baseline.series.get(check.denominator)
    )
    xc, nc, rows_c, drop_c = _pairs(
        candidate.series.get(check.numerator), candidate.series.get(check.denominator)
    )
    counts = {"n_baseline": rows_b, "n_candidate": rows_c, "nan_dropped": drop_b + drop_c}
    if rows_b < check.min_samples or rows_c < check.min_samples or nb <= 0 or nc <= 0:
        return _no_data(
            check,
            check.name,
            f"no {check.denominator} to divide by or too few rows (baseline {rows_b} rows / "
            f"{nb:g} {check.denominator}, candidate {rows_c} / {nc:g}; "
            f"need {check.min_samples} rows each)",
            **counts,
        )
    # More errors than requests is a counting glitch (different scrape instants): cap the rate.
    xb, xc = min(max(xb, 0.0), nb), min(max(xc, 0.0), nc)
    rate_b, rate_c = xb / nb, xc / nc
    p = two_proportion_p(xb, nb, xc, nc, _ALTERNATIVE[check.direction])
    diff = rate_c - rate_b
    bad = _bad_part(check, diff)
    failed = p < alpha and bad > check.allowed_effect
    if failed:
        reason = (
            f"rate {rate_c:.3%} vs baseline {rate_b:.3%} ({diff * 100:+.2f} points) beyond "
            f"the allowed {check.allowed_effect * 100:.2f}; p={p:.2g} < {alpha:g}"
        )
    elif p >= alpha:
        reason = f"no significant {check.direction}: {rate_c:.3%} vs {rate_b:.3%} (p={p:.2g})"
    else:
        reason = f"significant but within the allowed band: {diff * 100:+.2f} points"
    return MetricResult(
        name=check.name,
        kind="proportion",
        status="fail" if failed else "pass",
        comparison=_compare(check, failed, diff),
        p_value=p,
        effect=diff,
        shift=diff,
        allowed_effect=check.allowed_effect,
        baseline=rate_b,
        candidate=rate_c,
        weight=check.weight,
        critical=check.critical,
        reason=reason,
        **counts,
    )


def judge_metrics(
    baseline: MetricSamples, candidate: MetricSamples, config: JudgeConfig
) -> list[MetricResult]:
    """One result per configured check (a glob check: one per matching sample metric)."""
    results = []
    for check in config.metrics:
        if check.kind == "proportion":
            results.append(judge_proportion(check, baseline, candidate, config.alpha))
            continue
        pattern = check.sample_metric
        names = sorted(
            n for n in {*baseline.series, *candidate.series} if fnmatch.fnmatchcase(n, pattern)
        )
        if not names:
            results.append(_no_data(check, check.name, f"no sample metric matches {pattern!r}"))
            continue
        for name in names:
            results.append(
                judge_continuous(
                    check, name, baseline.values(name), candidate.values(name), config.alpha
                )
            )
    return results


def _check_of(config: JudgeConfig, result: MetricResult) -> MetricCheck:
    for check in config.metrics:
        if check.name == result.name or (
            check.kind == "continuous" and fnmatch.fnmatchcase(result.name, check.sample_metric)
        ):
            return check
    raise KeyError(result.name)


def judge(
    baseline: MetricSamples,
    candidate: MetricSamples,
    config: JudgeConfig = DEFAULT_CONFIG,
    *,
    release_status: ReleaseStatus | None = None,
    release_id: str | None = None,
    judged_at: datetime | None = None,
) -> Verdict:
    """Judge ``candidate`` against ``baseline``.

    Parameters
    ----------
    baseline, candidate
        Samples of the production version and of the candidate, taken under the same load.
    config
        The metric checks and score thresholds.
    release_status
        The cluster's view of the candidate's deployment; a rollback (or a running version
        that is not the candidate) fails the release before any metric is read.
    release_id, judged_at
        Carried into the verdict (the judge reads no clock).

    Returns
    -------
    Verdict
        Successful, Failed or Inconclusive, with the score and every metric's result.
    """
    results = judge_metrics(baseline, candidate, config)

    def verdict(name: VerdictName, score: float, reason: str) -> Verdict:
        return Verdict(
            id=release_id,
            verdict=name,
            score=round(score, 2),
            reason=reason,
            metrics=results,
            release_status=release_status,
            judged_at=judged_at,
        )

    failure = release_status.failure() if release_status is not None else None
    if failure is not None:
        return verdict("Failed", 0.0, failure)
    with_data = [r for r in results if r.status != "nodata"]
    total = sum(r.weight for r in with_data)
    score = 100.0 * sum(r.weight for r in with_data if r.status == "pass") / total if total else 0
    critical = [r.name for r in with_data if r.status == "fail" and r.critical]
    if critical:
        return verdict("Failed", 0.0, f"critical metric(s) failed: {', '.join(critical)}")
    missing = [(r, _check_of(config, r)) for r in results if r.status == "nodata"]
    required = [(r, c) for r, c in missing if c.must_have_data]
    fatal = [r.name for r, c in required if c.on_missing == "fail"]
    if fatal:
        return verdict("Failed", score, f"required metric(s) without data: {', '.join(fatal)}")
    if not with_data:
        return verdict("Inconclusive", 0.0, "no metric had enough data on both sides")
    if required:
        names = ", ".join(r.name for r, _ in required)
        return verdict("Inconclusive", score, f"required metric(s) without data: {names}")
    failed = [r.name for r in with_data if r.status == "fail"]
    detail = f"score {score:.1f} (pass ≥ {config.pass_score:g}, marginal ≥ "
    detail += f"{config.marginal_score:g})"
    if failed:
        detail += f"; failed: {', '.join(failed)}"
    if score >= config.pass_score:
        return verdict("Successful", score, detail)
    if score >= config.marginal_score:
        return verdict("Inconclusive", score, detail)
    return verdict("Failed", score, detail)
