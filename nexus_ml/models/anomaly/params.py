"""Hyper-parameter checks of :class:`~nexus_ml.models.anomaly.detector.AnomalyDetector`.

Checked at ``fit`` (not in ``__init__``), as scikit-learn estimators do, so that ``clone`` and
``set_params`` keep working on any values.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nexus_ml.errors import ConfigError


class HyperParameterError(ConfigError, ValueError):
    """A hyper-parameter is out of range (also a ``ValueError``, as scikit-learn raises)."""


def _bad(name: str, rule: str, value: Any) -> HyperParameterError:
    return HyperParameterError(f"{name} must be {rule}, got {value!r}", field=name, value=value)


def validate_params(det: Any) -> None:
    """Raise :class:`HyperParameterError` naming the first hyper-parameter out of range."""
    lengths = list(det.window_lengths)
    if any(not isinstance(m, int | np.integer) or m < 1 for m in lengths):
        raise _bad("window_lengths", "a sequence of positive integers", lengths)
    for name in ("history", "max_reference", "robust_window", "max_quiet_rows"):
        value = getattr(det, name)
        if not isinstance(value, int | np.integer) or value < 1:
            raise _bad(name, "a positive integer", value)
    if not isinstance(det.n_estimators, int | np.integer) or det.n_estimators < 0:
        raise _bad("n_estimators", "a non-negative integer", det.n_estimators)
    if lengths and det.history <= max(lengths):
        raise _bad("history", f"longer than the longest window ({max(lengths)})", det.history)
    if not 0 <= det.quiet_fraction <= 1:
        raise _bad("quiet_fraction", "in [0, 1]", det.quiet_fraction)
    if not 0 < det.calibration_quantile < 1:
        raise _bad("calibration_quantile", "in (0, 1)", det.calibration_quantile)
    if not det.robust_floor > 0:
        raise _bad("robust_floor", "greater than 0", det.robust_floor)
    if not det.escalation > 1:
        raise _bad("escalation", "greater than 1", det.escalation)
    if not det.alarm_ratio > 1:
        raise _bad("alarm_ratio", "greater than 1", det.alarm_ratio)
    if det.fields is not None and (
        isinstance(det.fields, str) or not all(isinstance(f, str) for f in det.fields)
    ):
        raise _bad("fields", "a sequence of column names", det.fields)
