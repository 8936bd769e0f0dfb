"""The executor built from settings opens incidents by itself, even in a process that exits right
after one tick (``nexus-ml execute --once``): the queued events are handled before exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from nexus_ml.crisis.records import FileRecordStore

SCRIPT = textwrap.dedent(
    """
    from datetime import UTC, datetime
    from nexus_ml.domain.decision import Action, Decision, Evidence
    from nexus_ml.execute.client import DecisionBatch
    from nexus_ml.execute.factory import build_executor
    from nexus_ml.execute.memory import InMemoryCluster
    from nexus_ml.settings import get_settings

    class Source:
        def fetch(self, observed=None):
            d = Decision(module="nexus-crm", action=Action.ROLLBACK, current_replicas=1,
                         target_replicas=1, confidence=0.95, reason="failed release",
                         explanation=(Evidence(kind="canary",
                                               detail="canary: regression in error_rate"),))
            return DecisionBatch(generated_at=datetime.now(UTC), policy="model", decisions=[d])

    cluster = InMemoryCluster({"nexus-crm": 1})
    cluster.deploy("nexus-crm", "nexus-module:2")
    build_executor(get_settings(), cluster, source=Source()).tick()
    """
)


def test_one_tick_in_a_short_lived_process_leaves_its_incident(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    env["NEXUS_STATE_DIR"] = str(tmp_path)
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                            text=True, timeout=120, cwd=Path(__file__).parents[2])  # fmt: skip
    assert result.returncode == 0, result.stderr
    (incident,) = FileRecordStore(tmp_path / "crisis").incidents()
    assert incident.module == "nexus-crm" and incident.is_open
    assert incident.error_type == "ERROR_BURST" and incident.severity == "CRITICAL"
    counts = FileRecordStore(tmp_path / "crisis").counts(incident.id)
    assert counts["actions"] == 2  # the release running at the opening, and the rollback
