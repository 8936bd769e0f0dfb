"""Golden texts: the message of each action type, in Portuguese and English.

The alerts are built by the executor's own code (``decision_alert`` over a metric context)
from the sample decisions of ``nexus-ml alerts preview``; a change of wording shows up here as
a diff of the golden file, to be reviewed like any text for operators.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_ml.alerts.render import render_alert
from nexus_ml.catalog import load_catalog
from nexus_ml.execute.alert_samples import SAMPLE_ACTIONS, SAMPLE_AT, sample_alert

GOLDEN = Path(__file__).parent / "golden"
DASHBOARD = "https://ops.example.com/dashboard"


@pytest.mark.parametrize("language", ["pt", "en"])
@pytest.mark.parametrize("action", SAMPLE_ACTIONS)
def test_the_message_of_each_action_matches_its_golden_text(action: str, language: str) -> None:
    profile = load_catalog().get("nexus-crm")
    alert = sample_alert(profile, action, language, dashboard_url=DASHBOARD)  # type: ignore[arg-type]
    text = render_alert(alert, language, at=SAMPLE_AT)  # type: ignore[arg-type]
    assert text + "\n" == (GOLDEN / f"{action}.{language}.html").read_text(encoding="utf-8")


def test_the_golden_texts_have_the_seeds_shape() -> None:
    for path in GOLDEN.glob("*.pt.html"):
        text = path.read_text(encoding="utf-8")
        assert text.startswith("<b>🐳 NEXUS - ALERTA CONTAINER</b>"), path.name
        for label in ("Problema", "Ação Tomada", "Impacto", "Métricas", "Causa Provável"):
            assert f"<b>{label}:</b>" in text, (path.name, label)
        assert "min" in text.split("<b>Próxima Ação:</b>")[1].splitlines()[0], path.name
        assert "sample " not in text  # the policy's English reason never reaches the text
