"""Telegram alerts through the Bot API's ``sendMessage``.

Rate limits are honoured (a 429 answer's ``parameters.retry_after``), 5xx and transport errors
are retried with exponential backoff (``tenacity`` runs the attempts), and the bot token — which
Telegram puts in the URL path — is masked in every log line, including the ones ``httpx``
writes about each request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from nexus_ml.alerts.grouping import AlertGrouper
from nexus_ml.alerts.notifier import Alert, AlertDeliveryError
from nexus_ml.alerts.render import Language, render_alert
from nexus_ml.logs import get_logger

log = get_logger(__name__)

_HTTP_LOGGERS = ("httpx", "httpcore")


class _MaskToken(logging.Filter):
    """Rewrite log records of the HTTP libraries so the token never reaches a handler."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg = message.replace(self.token, "***")
            record.args = ()
        return True


class TelegramNotifier:
    """Send alerts to one Telegram chat.

    Parameters
    ----------
    token
        The bot token.
    chat_id
        The chat (or channel) to write to.
    base_url
        The Bot API root (``https://api.telegram.org``; tests use a local stand-in).
    language
        ``"pt"`` (default) or ``"en"``.
    grouper
        De-duplication per (module, problem); None sends every alert.
    retries, backoff_s, max_retry_after_s
        Extra attempts, first backoff (doubles), and the longest 429 wait honoured.
    """

    def __init__(
        self,
        token: str,
        chat_id: str,
        *,
        base_url: str = "https://api.telegram.org",
        language: Language = "pt",
        grouper: AlertGrouper | None = None,
        timeout_s: float = 10.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        max_retry_after_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token:
            raise ValueError("a Telegram bot token is required")
        self._token = token
        self._chat_id = chat_id
        self._url = f"{base_url.rstrip('/')}/bot{token}/sendMessage"
        self.language: Language = language
        self._grouper = grouper
        self._retries = retries
        self._backoff_s = backoff_s
        self._max_retry_after_s = max_retry_after_s
        self._sleep = sleep
        self._http = httpx.Client(timeout=timeout_s, transport=transport)
        self._filter = _MaskToken(token)
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).addFilter(self._filter)

    def close(self) -> None:
        self._http.close()
        for name in _HTTP_LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)

    def send(self, alert: Alert) -> bool:
        """Deliver ``alert``; False when it was grouped into an earlier one.

        Raises
        ------
        AlertDeliveryError
            When Telegram still refuses after the retries (the message names no secret).
        """
        repeats = self._grouper.admit(alert) if self._grouper else 0
        if repeats is None:
            log.info(
                "alert.grouped", module=alert.module, problem=alert.problem, channel="telegram"
            )
            return False
        text = render_alert(alert, self.language, suppressed=repeats)
        payload = {
            "chat_id": self._chat_id,
            "text": text,
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
        }
        try:
            self._post(payload)
        except AlertDeliveryError:
            if self._grouper:
                self._grouper.forget(alert)
            raise
        log.info("alert.sent", module=alert.module, problem=alert.problem, channel="telegram")
        return True

    def _post(self, payload: dict[str, Any]) -> None:
        retrying = Retrying(
            stop=stop_after_attempt(self._retries + 1),
            retry=retry_if_exception_type(_Retryable),
            wait=_TelegramWait(self._backoff_s),
            sleep=self._sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        try:
            retrying(self._attempt, payload)
        except _Retryable as exc:
            raise AlertDeliveryError(f"Telegram sendMessage failed: {exc.problem}") from None

    def _attempt(self, payload: dict[str, Any]) -> None:
        """One ``sendMessage``: return on 200, raise ``_Retryable`` for what may get better
        (transport errors, 5xx, 429) and ``AlertDeliveryError`` for what will not."""
        try:
            response = self._http.post(self._url, json=payload)
        except httpx.HTTPError as exc:
            raise _Retryable(type(exc).__name__) from None
        if response.status_code == 200:
            return
        problem = f"HTTP {response.status_code}"
        if response.status_code == 429:
            wait = _retry_after(response)
            if wait is not None and wait > self._max_retry_after_s:
                raise AlertDeliveryError(f"Telegram sendMessage failed: {problem}")
            raise _Retryable(problem, retry_after_s=wait)
        if response.status_code >= 500:
            raise _Retryable(problem)
        # a 4xx other than 429 will not get better by retrying
        raise AlertDeliveryError(f"Telegram sendMessage failed: {problem}")


class _Retryable(Exception):
    """A failed attempt worth another: ``problem`` names it without the URL (which holds the
    token); ``retry_after_s`` is the wait a 429 asked for, if it named one."""

    def __init__(self, problem: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.retry_after_s = retry_after_s


class _TelegramWait:
    """Wait what a 429 asked for; otherwise back off exponentially from ``backoff_s``.

    A rate-limit wait does not count as a backoff step, so the doubling only follows the
    failures that had no wait named (one instance per message: it counts those steps).
    """

    def __init__(self, backoff_s: float) -> None:
        self._backoff_s = backoff_s
        self._steps = 0

    def __call__(self, retry_state: RetryCallState) -> float:
        assert retry_state.outcome is not None  # tenacity waits only after an attempt
        exc = retry_state.outcome.exception()
        if isinstance(exc, _Retryable) and exc.retry_after_s is not None:
            return exc.retry_after_s
        delay: float = self._backoff_s * 2**self._steps
        self._steps += 1
        return delay


def _log_retry(retry_state: RetryCallState) -> None:
    assert retry_state.outcome is not None and retry_state.next_action is not None
    exc = retry_state.outcome.exception()
    problem = exc.problem if isinstance(exc, _Retryable) else type(exc).__name__
    wait = retry_state.next_action.sleep
    if isinstance(exc, _Retryable) and exc.retry_after_s is not None:
        log.warning("telegram.rate_limited", retry_after_s=wait)
    else:
        log.warning(
            "telegram.attempt_failed",
            attempt=retry_state.attempt_number,
            problem=problem,
            retry_in_s=wait,
        )


def _retry_after(response: httpx.Response) -> float | None:
    try:
        body = response.json()
        return float(body["parameters"]["retry_after"])
    except (ValueError, KeyError, TypeError):
        header = response.headers.get("Retry-After")
        return float(header) if header and header.isdigit() else None
