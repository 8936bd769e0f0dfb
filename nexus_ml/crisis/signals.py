"""Numbers read off an incident's metric window: normal vs peak, growth, first deviation.

"Normal" is what the metric looked like at the same hour and weekday ``reference_days`` earlier
(the seasonal reference the collection keeps), smoothed over a quarter of an hour; an ERP at
10:00 on a Monday is busier than at 04:00, so comparing with the hours just before the incident
would call every morning ramp a surge. Without a reference, normal is the median of the window
before the incident. Medians and MADs keep one noisy minute from moving either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from nexus_ml.crisis.collect import CollectedIncident

#: A metric "deviates" when it leaves normal by this many robust standard deviations.
DEVIATION_SIGMAS = 4.0
#: Points of the rolling median that smooths the reference (minutes on a one-minute grid).
SMOOTH_POINTS = 15


@dataclass(frozen=True)
class MetricSignal:
    """One metric of one module around the incident.

    ``baseline`` is the median normal value over the incident, ``peak`` the highest value during
    it, ``mean_ratio`` the mean during the incident over the mean normal value at the same
    instants (robust to a single spike, unlike peak over baseline).
    """

    metric: str
    baseline: float
    peak: float
    peak_at: datetime | None
    first_deviation_at: datetime | None
    mean_ratio: float = float("nan")

    @property
    def ratio(self) -> float:
        """Peak over baseline (``inf`` when the baseline is zero and the peak is not)."""
        if self.baseline == 0:
            return float("inf") if self.peak > 0 else 1.0
        return self.peak / self.baseline

    @property
    def rise(self) -> float:
        return self.peak - self.baseline


@dataclass(frozen=True)
class Growth:
    """A straight line through a metric (above normal) during the incident: per-hour slope,
    fit quality and the rise from the incident's start to its end."""

    slope_per_h: float
    r2: float
    rise: float


def incident_end(incident: CollectedIncident) -> datetime:
    m = incident.manifest
    return m.ended_at if m.ended_at is not None else m.window_end


def _during(index: pd.DatetimeIndex, incident: CollectedIncident) -> np.ndarray:
    return np.asarray(
        (index >= incident.manifest.started_at) & (index <= incident_end(incident)), dtype=bool
    )


def expected(incident: CollectedIncident, metric: str, module: str | None = None) -> pd.Series:
    """The normal value of ``metric`` at each instant of the module's window."""
    rows = incident.module_frame(module)
    reference = incident.reference_frame() if module in (None, incident.manifest.module) else None
    if reference is not None and metric in reference.columns:
        smooth = reference[metric].rolling(SMOOTH_POINTS, center=True, min_periods=1).median()
        aligned = smooth.reindex(rows.index)
        if aligned[_during(rows.index, incident)].notna().sum() >= 5:
            return aligned
    before = rows.loc[rows.index < incident.manifest.started_at, metric].dropna()
    level = float(before.median()) if len(before) else float("nan")
    return pd.Series(level, index=rows.index, dtype=float)


def metric_signals(
    incident: CollectedIncident, module: str | None = None
) -> dict[str, MetricSignal]:
    """Normal level, peak, mean ratio and first deviation of each collected metric."""
    rows = incident.module_frame(module)
    during = _during(rows.index, incident)
    before = np.asarray(rows.index < incident.manifest.started_at, dtype=bool)
    signals = {}
    for metric in incident.manifest.metrics:
        normal = expected(incident, metric, module)
        values = rows[metric]
        inside = values[during].dropna()
        baseline = float(normal[during].median()) if during.any() else float("nan")
        if inside.empty:
            signals[metric] = MetricSignal(metric, baseline, float("nan"), None, None)
            continue
        residual = (values - normal)[before].dropna()
        mad = float((residual - residual.median()).abs().median()) if len(residual) else 0.0
        # A floor on the spread: a flat normal (MAD 0) must not flag every rounding wobble.
        spread = max(1.4826 * mad, 0.01 * abs(baseline), 1e-9)
        above = inside[inside > normal[during].reindex(inside.index) + DEVIATION_SIGMAS * spread]
        normal_mean = float(normal[during].mean())
        signals[metric] = MetricSignal(
            metric=metric,
            baseline=baseline,
            peak=float(inside.max()),
            peak_at=pd.Timestamp(inside.idxmax()).to_pydatetime(),
            first_deviation_at=pd.Timestamp(above.index[0]).to_pydatetime() if len(above) else None,
            mean_ratio=float(inside.mean()) / normal_mean if normal_mean > 0 else float("nan"),
        )
    return signals


def growth(incident: CollectedIncident, metric: str, module: str | None = None) -> Growth | None:
    """A least-squares line through ``metric`` minus its normal value during the incident
    (``None``: too few points)."""
    rows = incident.module_frame(module)
    if metric not in rows.columns:
        return None
    excess = (rows[metric] - expected(incident, metric, module))[_during(rows.index, incident)]
    excess = excess.dropna()
    if len(excess) < 5:
        return None
    hours = (excess.index - excess.index[0]).total_seconds().to_numpy() / 3600.0
    y = excess.to_numpy(dtype=float)
    slope, intercept = np.polyfit(hours, y, 1)
    fitted = slope * hours + intercept
    total = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(((y - fitted) ** 2).sum()) / total if total > 0 else 0.0
    return Growth(slope_per_h=float(slope), r2=r2, rise=float(slope * hours[-1]))
