"""Message rendering: the seed's header and fields in Portuguese (default) and English."""

from __future__ import annotations

import pytest

from nexus_ml.alerts.notifier import Alert
from nexus_ml.alerts.phrases import number, percent, times
from nexus_ml.alerts.render import problem_title, render_alert

FULL = Alert(
    module="nexus-crm",
    container="nexus-crm.2.x7k",
    problem="surge",
    problem_detail="Demanda 2.100 req/min acima da capacidade (1.680) há 7min",
    severity="warning",
    action_taken="Réplicas aumentadas de 2 para 3",
    impact="Tempo de resposta normalizado (840 ms → 210 ms)",
    key_metrics={"requests_per_min": 2100.0, "memory_usage": 0.81, "error_rate": 0.004},
    normal_metrics={"requests_per_min": 800.0},
    probable_cause="Fechamento do mês",
    next_action="Monitorar por 10min",
    dashboard_url="http://grafana/d/nexus?var=a&b=c",
)


def test_portuguese_has_the_seeds_header_and_every_field() -> None:
    lines = render_alert(FULL).splitlines()
    assert lines[0] == "<b>🐳 NEXUS - ALERTA CONTAINER</b>"
    assert lines[1] == "⚠️ <b>Pico de demanda</b>"  # what Telegram's notification preview shows
    for expected in (
        "<b>Container:</b> nexus-crm.2.x7k",
        "<b>Problema:</b> Demanda 2.100 req/min acima da capacidade (1.680) há 7min",
        "<b>Ação Tomada:</b> Réplicas aumentadas de 2 para 3",
        "<b>Impacto:</b> Tempo de resposta normalizado (840 ms → 210 ms)",
        "<b>Métricas:</b>",
        "• Requisições/min: 2.100 (normal: 800)",
        "• Memória: 81%",
        "• Taxa de erro: 0,4%",
        "<b>Causa Provável:</b> Fechamento do mês",
        "<b>Próxima Ação:</b> Monitorar por 10min",
    ):
        assert expected in lines, expected
    # deep-linked to the module and the time (Grafana's variables on a Grafana URL)
    assert (
        '<a href="http://grafana/d/nexus?var=a&amp;b=c&amp;var-module=nexus-crm&amp;from='
        in (lines[-1])
    )


def test_english_header_labels_and_numbers() -> None:
    text = render_alert(FULL, "en")
    assert text.startswith("<b>🐳 NEXUS - CONTAINER ALERT</b>\n⚠️ <b>Demand surge</b>")
    assert "• Requests/min: 2,100 (normal: 800)" in text and "• Error rate: 0.4%" in text
    assert "<b>Action Taken:</b>" in text and "<b>Probable Cause:</b>" in text
    assert "Problema" not in text and "Métricas" not in text


def test_grouped_alerts_are_counted() -> None:
    assert render_alert(FULL, suppressed=4).endswith(
        "<i>+4 alertas semelhantes agrupados desde a última mensagem</i>"
    )
    assert "+4 similar alerts grouped since the last message" in render_alert(
        FULL, "en", suppressed=4
    )


@pytest.mark.parametrize(
    ("value", "pt", "en"),
    [(2100.0, "2.100", "2,100"), (1234567.0, "1.234.567", "1,234,567"), (80.0, "80", "80")],
)
def test_numbers_follow_the_language(value: float, pt: str, en: str) -> None:
    assert (number(value, "pt"), number(value, "en")) == (pt, en)


def test_percent_and_times() -> None:
    assert (percent(0.004), percent(0.95), percent(0.123, "en")) == ("0,4%", "95%", "12%")
    assert (times(4.1), times(4.1, "en")) == ("4,1×", "4.1×")


@pytest.mark.parametrize("language", ["pt", "en"])
def test_every_problem_the_executor_raises_has_a_title(language: str) -> None:
    for key in (
        "degradation",
        "surge",
        "demand_high",
        "demand_low",
        "outcome",
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
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "<b>Action Taken:</b> none" in text
    # without a detail the problem is its title
    assert "<b>Problem:</b> Performance degradation" in text
