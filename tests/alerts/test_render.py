"""Message rendering: the seed's fields in Portuguese (default) and English."""

from __future__ import annotations

import pytest

from nexus_ml.alerts.notifier import Alert
from nexus_ml.alerts.render import problem_title, render_alert

FULL = Alert(
    module="nexus-crm",
    container="nexus-crm.2.x7k",
    problem="surge",
    severity="warning",
    action_taken="Réplicas aumentadas de 1 para 3",
    impact="Capacidade de 3 réplicas",
    key_metrics={"requests_per_min": 240.0, "memory_usage": 0.81, "error_rate": 0.004},
    normal_metrics={"requests_per_min": 60.0},
    probable_cause="Fechamento do mês",
    next_action="Acompanhar",
    dashboard_url="http://grafana/d/nexus?var=a&b=c",
)


def test_portuguese_has_every_field_of_the_seed() -> None:
    text = render_alert(FULL)
    for expected in (
        "<b>Container:</b> nexus-crm.2.x7k",
        "<b>Problema:</b> Pico de demanda",
        "<b>Ação tomada:</b> Réplicas aumentadas de 1 para 3",
        "<b>Impacto:</b> Capacidade de 3 réplicas",
        "<b>Métricas-chave:</b>",
        "Requisições/min: 240 (normal: 60; 4.0×)",
        "Memória: 81.0%",
        "Taxa de erro: 0.4%",
        "<b>Causa provável:</b> Fechamento do mês",
        "<b>Próxima ação:</b> Acompanhar",
        # deep-linked to the module and the time (Grafana's variables on a Grafana URL)
        '<a href="http://grafana/d/nexus?var=a&amp;b=c&amp;var-module=nexus-crm&amp;from=',
    ):
        assert expected in text, expected


def test_english_labels() -> None:
    text = render_alert(FULL, "en")
    assert "<b>Problem:</b> Demand surge" in text and "Requests/min: 240 (normal: 60; 4.0×)" in text
    assert "<b>Action taken:</b>" in text and "Problema" not in text


@pytest.mark.parametrize("language", ["pt", "en"])
def test_every_problem_the_executor_raises_has_a_title(language: str) -> None:
    for key in (
        "degradation",
        "surge",
        "service_down",
        "metrics_unavailable",
        "cluster_error",
        "invalid_decision",
        "stale_decision",
        "service_unavailable",
        "failed_release",
        "resumed",
        "out_of_range",
        "stale_input",
        "unknown_module",
    ):
        assert problem_title(key, language) != key, key  # type: ignore[arg-type]


def test_missing_fields_say_none_and_markup_is_escaped() -> None:
    text = render_alert(Alert(module="<b>x</b>", problem="degradation"), "en")
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "<b>Action taken:</b> none" in text
