"""Telegram notifier against a local server that speaks the Bot API."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from nexus_ml.alerts.grouping import AlertGrouper
from nexus_ml.alerts.notifier import Alert, AlertDeliveryError
from nexus_ml.alerts.telegram import TelegramNotifier
from tests.support.telegram_stub import TelegramStub

TOKEN = "987654:SECRET-bot-token-xyz"


@pytest.fixture
def stub() -> Iterator[TelegramStub]:
    server = TelegramStub().start()
    yield server
    server.stop()


def alert(problem: str = "degradation", module: str = "nexus-crm") -> Alert:
    return Alert(
        module=module,
        problem=problem,
        severity="critical",
        action_taken="Serviço reiniciado",
        key_metrics={"error_rate": 0.12},
        normal_metrics={"error_rate": 0.01},
        probable_cause="vazamento <memória>",
    )


def notifier(stub: TelegramStub, **kw) -> tuple[TelegramNotifier, list[float]]:  # type: ignore[no-untyped-def]
    sleeps: list[float] = []
    n = TelegramNotifier(TOKEN, "-100123", base_url=stub.base_url, sleep=sleeps.append, **kw)
    return n, sleeps


def test_sends_html_to_the_chat_with_the_token_in_the_path(stub: TelegramStub) -> None:
    n, _ = notifier(stub)
    assert n.send(alert()) is True
    (msg,) = stub.messages
    assert (msg.token, msg.chat_id, msg.parse_mode) == (TOKEN, "-100123", "HTML")
    assert "<b>Problema:</b> Degradação de desempenho" in msg.text
    assert "vazamento &lt;memória&gt;" in msg.text  # escaped for Telegram's HTML parser
    assert "Taxa de erro: 12% (normal: 1,0%)" in msg.text  # Portuguese decimal comma


def test_honours_retry_after_on_429(stub: TelegramStub) -> None:
    stub.fail_next(429, retry_after=3)
    n, sleeps = notifier(stub)
    assert n.send(alert())
    assert sleeps == [3.0] and stub.requests == 2 and len(stub.messages) == 1


def test_retries_5xx_with_exponential_backoff(stub: TelegramStub) -> None:
    stub.fail_next(502, times=2)
    n, sleeps = notifier(stub, backoff_s=0.25)
    assert n.send(alert())
    assert sleeps == [0.25, 0.5] and stub.requests == 3


def test_a_rate_limit_wait_is_not_a_backoff_step(stub: TelegramStub) -> None:
    stub.fail_next(502)
    stub.fail_next(429, retry_after=2)
    stub.fail_next(503)
    n, sleeps = notifier(stub, backoff_s=0.25)
    assert n.send(alert())
    assert sleeps == [0.25, 2.0, 0.5] and stub.requests == 4


def test_a_rate_limit_longer_than_allowed_gives_up_at_once(stub: TelegramStub) -> None:
    stub.fail_next(429, retry_after=120)
    n, sleeps = notifier(stub, max_retry_after_s=60)
    with pytest.raises(AlertDeliveryError, match="HTTP 429"):
        n.send(alert())
    assert sleeps == [] and stub.requests == 1


def test_a_4xx_other_than_429_is_not_retried(stub: TelegramStub) -> None:
    stub.fail_next(400)
    n, sleeps = notifier(stub)
    with pytest.raises(AlertDeliveryError, match="HTTP 400"):
        n.send(alert())
    assert sleeps == [] and stub.requests == 1


def test_gives_up_with_an_error_that_names_no_secret(stub: TelegramStub) -> None:
    stub.fail_next(500, times=10)
    grouper = AlertGrouper(600)
    n, _ = notifier(stub, retries=2, backoff_s=0.01, grouper=grouper)
    with pytest.raises(AlertDeliveryError) as err:
        n.send(alert())
    assert "HTTP 500" in str(err.value) and TOKEN not in str(err.value)
    assert stub.requests == 3
    stub._failures.clear()
    assert n.send(alert())  # not swallowed by grouping: the failed one did not count as sent


def test_groups_repeats_per_module_and_problem(stub: TelegramStub) -> None:
    now = [0.0]
    n, _ = notifier(stub, grouper=AlertGrouper(600, clock=lambda: now[0]))
    assert n.send(alert())
    assert not n.send(alert())  # same module and problem: grouped
    assert not n.send(alert())
    assert n.send(alert(module="nexus-agendamento"))  # another module goes out
    assert n.send(alert(problem="surge"))  # another problem goes out
    now[0] = 601
    assert n.send(alert())
    assert len(stub.messages) == 4
    assert "+2 alertas semelhantes agrupados" in stub.messages[-1].text


def test_the_token_never_reaches_the_logs(
    stub: TelegramStub, caplog: pytest.LogCaptureFixture
) -> None:
    stub.fail_next(429, retry_after=1)
    stub.fail_next(503)
    n, _ = notifier(stub)
    with caplog.at_level(logging.DEBUG):
        n.send(alert())
    assert "sendMessage" in caplog.text  # httpx did log the request ...
    assert TOKEN not in caplog.text and "SECRET" not in caplog.text  # ... with the token masked
    assert "bot***" in caplog.text
    n.close()
