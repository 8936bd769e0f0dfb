"""HTTP client of the decision service: ``GET /v1/decisions`` with a bearer token.

Timeouts, retries with exponential backoff on transport errors and 5xx (run by ``tenacity``),
and validation of every decision on its own: a malformed or out-of-range decision is returned
as a :class:`RejectedDecision` (the executor audits it) and never applied.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import AwareDatetime, BaseModel, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

from nexus_ml.decide.observed import ModuleObservation
from nexus_ml.domain.decision import Decision
from nexus_ml.errors import NexusError
from nexus_ml.logs import get_logger

log = get_logger(__name__)


class DecisionServiceError(NexusError):
    """The decision service could not be reached or answered something unusable."""

    exit_code = 8
    http_status = 502


class _Envelope(BaseModel):
    generated_at: AwareDatetime
    decisions: list[Any]
    policy: Literal["model", "rules"] = "rules"


@dataclass(frozen=True)
class RejectedDecision:
    raw: Any
    error: str

    @property
    def module(self) -> str:
        return str(self.raw.get("module", "")) if isinstance(self.raw, dict) else ""


@dataclass(frozen=True)
class DecisionBatch:
    generated_at: datetime
    policy: str
    decisions: list[Decision] = field(default_factory=list)
    rejected: list[RejectedDecision] = field(default_factory=list)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(decision)"
    return f"{loc}: {err['msg']} (got {err.get('input')!r})"


def observation_body(observed: Mapping[str, ModuleObservation]) -> dict[str, Any]:
    """What the executor observed, as the body of ``POST /v1/decisions/observed``."""
    modules: dict[str, Any] = {}
    for name, obs in observed.items():
        entry: dict[str, Any] = {
            "replicas": obs.replicas,
            "recent_actions": [
                {"action": a.action.value, "at": a.at.isoformat()} for a in obs.recent_actions
            ],
        }
        for key in ("deployed_at", "updated_at", "released_at"):
            stamp = getattr(obs, key)
            if stamp is not None:
                entry[key] = stamp.isoformat()
        if obs.image:
            entry.update(
                image=obs.image,
                version=obs.version,
                previous_image=obs.previous_image,
                update_state=obs.update_state,
                rolled_back=obs.rolled_back,
            )
        modules[name] = entry
    return {"modules": modules}


class DecisionClient:
    """Fetch decisions from the service.

    Parameters
    ----------
    base_url
        The service's base URL, e.g. ``http://127.0.0.1:8000``.
    token
        The API bearer token (never logged).
    timeout_s, retries, backoff_s
        Per-request timeout; extra attempts after the first; first backoff (doubles).
    transport
        An ``httpx`` transport (tests pass a ``MockTransport`` or an ASGI app's).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            transport=transport,
        )
        self._retries = retries
        self._backoff_s = backoff_s
        self._sleep = sleep

    def close(self) -> None:
        self._http.close()

    def fetch(self, observed: Mapping[str, ModuleObservation] | None = None) -> DecisionBatch:
        """The current decisions; with ``observed``, decided from what the executor sees
        (``POST /v1/decisions/observed``), else the service's snapshot (``GET``).

        Raises
        ------
        DecisionServiceError
            After the last retry, or at once for a 4xx answer or an unusable envelope.
        """
        body = None if observed is None else observation_body(observed)
        response = self._request_with_retries(body)
        try:
            envelope = _Envelope.model_validate(response.json())
        except (ValueError, ValidationError) as exc:
            detail = _first_error(exc) if isinstance(exc, ValidationError) else "not JSON"
            raise DecisionServiceError(
                f"decision service answered an invalid body: {detail}"
            ) from None
        batch = DecisionBatch(generated_at=envelope.generated_at, policy=envelope.policy)
        for raw in envelope.decisions:
            try:
                batch.decisions.append(Decision.model_validate(raw))
            except ValidationError as exc:
                batch.rejected.append(RejectedDecision(raw=raw, error=_first_error(exc)))
        return batch

    def _request_with_retries(self, body: dict[str, Any] | None) -> httpx.Response:
        retrying = Retrying(
            stop=stop_after_attempt(self._retries + 1),
            retry=retry_if_exception_type(_Unavailable),
            wait=wait_exponential(multiplier=self._backoff_s, exp_base=2),
            sleep=self._sleep,
            after=_log_failed_attempt,
            reraise=True,
        )
        try:
            return retrying(self._request, body)
        except _Unavailable as exc:
            raise DecisionServiceError(
                f"decision service unavailable after {self._retries + 1} attempts ({exc})"
            ) from None

    def _request(self, body: dict[str, Any] | None) -> httpx.Response:
        """One request: the answer, ``_Unavailable`` for what a retry may cure (transport
        errors, 5xx), ``DecisionServiceError`` for a 4xx (a retry would be refused again)."""
        try:
            response = (
                self._http.get("/v1/decisions")
                if body is None
                else self._http.post("/v1/decisions/observed", json=body)
            )
        except httpx.HTTPError as exc:
            raise _Unavailable(type(exc).__name__) from None
        if response.status_code >= 500:
            raise _Unavailable(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise DecisionServiceError(
                f"decision service refused the request: HTTP {response.status_code}"
            )
        return response


class _Unavailable(Exception):
    """A failed attempt worth another; the message names the problem, never the token."""


def _log_failed_attempt(retry_state: RetryCallState) -> None:
    assert retry_state.outcome is not None  # tenacity calls ``after`` once an attempt ended
    log.warning(
        "executor.service_attempt_failed",
        attempt=retry_state.attempt_number,
        problem=str(retry_state.outcome.exception()),
    )
