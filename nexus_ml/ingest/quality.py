"""Data quality of a fetch: coverage, gaps, staleness, NaN, duplicates, resets; the training gate.

Both sources put their data on the same aligned grid (one row per module and step, NaN where
nothing was observed) and then call :func:`assess_quality`, so a report means the same thing
whichever source produced it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import DataQualityError
from nexus_ml.ingest.source import QualityReport

#: Training refuses a (module, field) series with less coverage than this, unless told otherwise.
DEFAULT_MIN_COVERAGE = 0.8


def longest_missing_run(finite: np.ndarray) -> int:
    """The length of the longest run of ``False`` in a boolean array."""
    missing = np.concatenate(([0], (~finite).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(missing))
    return int((edges[1::2] - edges[::2]).max()) if len(edges) else 0


def assess_quality(
    frame: pd.DataFrame,
    modules: Sequence[str],
    *,
    step: timedelta,
    now: datetime,
    stale_after: timedelta,
    nan_values: Mapping[str, int] | None = None,
    duplicate_timestamps: Mapping[str, int] | None = None,
    counter_resets: Mapping[str, int] | None = None,
) -> QualityReport:
    """Report how complete ``frame`` (a metric frame on a full step grid) is.

    Parameters
    ----------
    frame
        One row per (module, grid instant), NaN where nothing was observed.
    modules
        The modules asked for; one absent from ``frame`` has coverage 0 and no data.
    step
        The grid step, to turn missing runs into durations.
    now
        The reference instant for staleness (the end of the fetch).
    stale_after
        A module is stale when its newest finite value is older than ``now - stale_after``.
    nan_values, duplicate_timestamps, counter_resets
        Counts per module that only the source can know; reported as given.
    """
    coverage: dict[str, dict[str, float]] = {}
    longest_gap: dict[str, timedelta] = {}
    stale: dict[str, bool] = {}
    last_seen: dict[str, datetime | None] = {}
    issues: list[str] = []
    by_module = dict(tuple(frame.groupby("module", sort=False))) if len(frame) else {}
    for module in modules:
        rows = by_module.get(module)
        if rows is None or len(rows) == 0:
            coverage[module] = dict.fromkeys(METRIC_FIELDS, 0.0)
            longest_gap[module], stale[module], last_seen[module] = timedelta(0), True, None
            issues.append(f"{module}: no data")
            continue
        values = rows[list(METRIC_FIELDS)].to_numpy(dtype=float)
        finite = np.isfinite(values)
        coverage[module] = {f: float(finite[:, i].mean()) for i, f in enumerate(METRIC_FIELDS)}
        runs = [longest_missing_run(finite[:, i]) for i in range(len(METRIC_FIELDS))]
        longest_gap[module] = step * max(runs)
        any_finite = finite.any(axis=1)
        if not any_finite.any():
            last_seen[module], stale[module] = None, True
            issues.append(f"{module}: no data")
            continue
        newest = pd.Timestamp(rows["timestamp"].iloc[np.flatnonzero(any_finite)[-1]])
        last_seen[module] = newest.to_pydatetime()
        stale[module] = pd.Timestamp(now) - newest > pd.Timedelta(stale_after)
        if stale[module]:
            issues.append(f"{module}: stale, newest value at {newest.isoformat()}")
        for i, f in enumerate(METRIC_FIELDS):
            if coverage[module][f] < 1.0:
                issues.append(
                    f"{module}.{f}: coverage {coverage[module][f]:.1%}, "
                    f"longest gap {step * runs[i]}"
                )
    for label, counts in (
        ("NaN value(s) from the source", nan_values),
        ("duplicate timestamp(s) dropped", duplicate_timestamps),
        ("counter reset(s)", counter_resets),
    ):
        for module, n in sorted((counts or {}).items()):
            if n:
                issues.append(f"{module}: {n} {label}")
    return QualityReport(
        coverage=coverage,
        longest_gap=longest_gap,
        stale=stale,
        issues=tuple(issues),
        last_seen=last_seen,
        nan_values={m: int((nan_values or {}).get(m, 0)) for m in modules},
        duplicate_timestamps={m: int((duplicate_timestamps or {}).get(m, 0)) for m in modules},
        counter_resets={m: int((counter_resets or {}).get(m, 0)) for m in modules},
    )


def require_coverage(
    report: QualityReport,
    min_coverage: float = DEFAULT_MIN_COVERAGE,
    *,
    purpose: str = "training",
    fields: Sequence[str] = METRIC_FIELDS,
) -> None:
    """Refuse data whose coverage is below ``min_coverage`` for any module and field.

    Raises
    ------
    DataQualityError
        Naming the purpose, the worst (module, field), its coverage and the required minimum.
    """
    if not 0.0 <= min_coverage <= 1.0:
        raise ValueError(f"min_coverage must be in [0, 1], got {min_coverage}")
    worst: tuple[float, str, str] | None = None
    for module, per_field in report.coverage.items():
        for f in fields:
            value = per_field.get(f, 0.0)
            if worst is None or value < worst[0]:
                worst = (value, module, f)
    if worst is None:
        raise DataQualityError(f"{purpose} refused: the fetch holds no module", purpose=purpose)
    value, module, f = worst
    if value < min_coverage:
        raise DataQualityError(
            f"{purpose} refused: {module}.{f} coverage {value:.1%} is below the required "
            f"{min_coverage:.1%} (longest gap {report.longest_gap.get(module, timedelta(0))})",
            purpose=purpose,
            module=module,
            field=f,
            coverage=value,
            min_coverage=min_coverage,
        )
