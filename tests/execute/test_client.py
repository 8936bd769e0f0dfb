"""The decision client: token, retries with backoff, per-decision validation."""

from __future__ import annotations

import httpx
import pytest

from nexus_ml.execute.client import DecisionClient, DecisionServiceError

GOOD = {
    "module": "nexus-crm",
    "action": "scale_up",
    "current_replicas": 1,
    "target_replicas": 3,
    "confidence": 0.8,
    "reason": "month-end",
}


def envelope(*decisions: object) -> dict[str, object]:
    return {"generated_at": "2026-11-30T09:00:00Z", "decisions": list(decisions), "policy": "model"}


def client(handler, **kw) -> DecisionClient:  # type: ignore[no-untyped-def]
    sleeps: list[float] = []
    c = DecisionClient(
        "http://svc",
        "s3cret-token",
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        **kw,
    )
    c.sleeps = sleeps  # type: ignore[attr-defined]
    return c


def test_sends_the_bearer_token_and_parses_decisions() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers["authorization"]))
        return httpx.Response(200, json=envelope(GOOD))

    batch = client(handler).fetch()
    assert seen == [("/v1/decisions", "Bearer s3cret-token")]
    assert [d.target_replicas for d in batch.decisions] == [3]
    assert batch.policy == "model" and batch.generated_at.tzinfo is not None


def test_a_malformed_decision_is_rejected_alone() -> None:
    bad_range = {**GOOD, "target_replicas": 5000}
    bad_logic = {**GOOD, "target_replicas": 1}  # scale_up to the current count
    bad_action = {**GOOD, "action": "delete_everything"}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=envelope(GOOD, bad_range, bad_logic, bad_action))

    batch = client(handler).fetch()
    assert len(batch.decisions) == 1
    errors = [r.error for r in batch.rejected]
    assert "5000" in errors[0] and "target_replicas" in errors[0]
    assert "scale_up needs" in errors[1]
    assert "delete_everything" in errors[2]
    assert {r.module for r in batch.rejected} == {"nexus-crm"}


def test_retries_5xx_and_transport_errors_with_growing_backoff() -> None:
    answers = iter(
        [httpx.ConnectError("refused"), httpx.Response(503), httpx.Response(200, json=envelope())]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    c = client(handler, retries=2, backoff_s=0.5)
    assert c.fetch().decisions == []
    assert c.sleeps == [0.5, 1.0]  # type: ignore[attr-defined]


def test_gives_up_after_the_retries_without_leaking_the_token() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        raise httpx.ReadTimeout("timed out")

    c = client(handler, retries=1, backoff_s=0.5)
    with pytest.raises(DecisionServiceError) as err:
        c.fetch()
    assert "after 2 attempts" in str(err.value) and "ReadTimeout" in str(err.value)
    assert len(calls) == 2 and c.sleeps == [0.5]  # type: ignore[attr-defined]
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors_are_not_retried(status: int) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(status)

    with pytest.raises(DecisionServiceError, match=str(status)):
        client(handler, retries=3).fetch()
    assert len(calls) == 1


def test_an_invalid_envelope_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"decisions": "nope"})

    with pytest.raises(DecisionServiceError, match="invalid body"):
        client(handler).fetch()
