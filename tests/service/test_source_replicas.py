"""The replica count comes from the metric source when the executor has not said it.

Prometheus records ``nexus:replicas`` (the module's containers cAdvisor reports running), the
bundled query catalog reads it, and a FrameSource serves a frame's ``replicas`` column: a
decision asked without the executor's observation (``GET /v1/decisions``) starts from the
replicas really running, and the scaling strategy folds the count each past minute had.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.engine.strategies import SETTLE
from tests.service.fakes import crm_history, rules_engine

CRM = "nexus-crm"


@pytest.fixture(scope="module")
def history() -> pd.DataFrame:
    return crm_history().assign(replicas=3.0)


def test_a_decision_without_the_executor_starts_from_the_replicas_running(
    history: pd.DataFrame,
) -> None:
    now = history["timestamp"].iloc[-1].to_pydatetime() + SETTLE + timedelta(seconds=1)
    engine = rules_engine(history, lambda: now)
    window = engine.read_windows([CRM])[CRM]
    assert list(window.replicas) == [3.0] * len(window)
    assert engine.decide(CRM).current_replicas == 3
    # the executor's observation, when sent, is what the cluster has now: it wins
    assert engine.decide(CRM, current_replicas=2).current_replicas == 2
    # a source without the count: the catalog's minimum stands in, as before
    blind = rules_engine(history.drop(columns=["replicas"]), lambda: now)
    assert blind.read_windows([CRM])[CRM].replicas == []
    assert blind.decide(CRM).current_replicas == load_catalog().get(CRM).min_replicas
