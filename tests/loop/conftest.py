"""Champion training for the closed-loop test, started early (see ``champions.py``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from nexus_ml.catalog import load_catalog

from .champions import Champions, champions_in_background
from .harness import SIM_START


@pytest.fixture(scope="session", autouse=True)
def early_champions(request: pytest.FixtureRequest) -> Iterator[Champions | None]:
    """Background training when a selected test needs champions and MLflow is configured.

    Autouse so that it starts with the first test of this folder (the rules-based loop, which
    leaves most of the CPU idle); tests read it through ``loop_champions``, which also skips or
    fails like every service fixture when MLflow is missing.
    """
    uri = os.environ.get("NEXUS_TEST_MLFLOW_URI")
    wanted = any(
        "loop_champions" in getattr(item, "fixturenames", ()) for item in request.session.items
    )
    if not uri or not wanted:
        yield None
        return
    with champions_in_background(uri, load_catalog().names, end=SIM_START) as training:
        yield training


@pytest.fixture
def loop_champions(mlflow_uri: str, early_champions: Champions | None) -> Champions:
    """The trained champions (waits for the background training to finish)."""
    assert early_champions is not None, "NEXUS_TEST_MLFLOW_URI is set for the session"
    outcomes = early_champions.trained(timeout_s=240)
    assert {t.status for t in outcomes} == {"promoted"}, outcomes
    return early_champions
