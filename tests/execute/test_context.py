"""Alert context: recent key metrics against their normal, from a MetricSource."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from nexus_ml.domain.decision import Action, Decision
from nexus_ml.domain.frame import FRAME_COLUMNS
from nexus_ml.errors import IngestError
from nexus_ml.execute.alerting import decision_alert
from nexus_ml.execute.context import MetricContext
from nexus_ml.ingest.frame_source import FrameSource

from .conftest import CRM, T0


def frame(minutes: int = 60) -> pd.DataFrame:
    ts = pd.date_range(T0 - timedelta(minutes=minutes - 1), T0, freq="1min", tz="UTC")
    data = {c: np.full(minutes, 0.5) for c in FRAME_COLUMNS[2:]}
    data["requests_per_min"] = np.r_[np.full(minutes - 5, 60.0), np.full(5, 240.0)]
    data["error_rate"] = np.r_[np.full(minutes - 1, 0.01), [np.nan]]  # newest minute missing
    return pd.DataFrame({"module": CRM, "timestamp": ts, **data})


def test_current_values_against_the_median_before_the_recent_minutes() -> None:
    context = MetricContext(FrameSource(frame()), lambda: T0)
    current, normal = context.metrics(CRM)
    assert current["requests_per_min"] == 240.0 and normal["requests_per_min"] == 60.0
    assert current["error_rate"] == 0.01  # the newest finite value
    assert set(current) == {"requests_per_min", "memory_usage", "error_rate", "response_time"}


def test_a_failing_source_gives_an_alert_without_metrics() -> None:
    class Down:
        def fetch(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            raise IngestError("Prometheus at http://x is unreachable")

    context = MetricContext(Down(), lambda: T0)  # type: ignore[arg-type]
    decision = Decision(
        module=CRM,
        action=Action.SCALE_UP,
        current_replicas=1,
        target_replicas=3,
        confidence=0.9,
        reason="month-end",
    )
    alert = decision_alert(decision, "surge", "scaled", context=context)
    assert alert.key_metrics == {} and alert.problem_detail == ""  # no value to quote
    # the cause is never the policy's English reason; the outcome is measured later
    assert alert.probable_cause == "Não identificada automaticamente"
    assert alert.impact == "Em avaliação: resultado medido em 10min"
