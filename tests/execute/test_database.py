"""The smoke requests of a rollback's validation (HttpSmoke) and the database side's
"nothing to undo" answer on the real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from nexus_ml.errors import NexusError
from nexus_ml.execute.database import HttpSmoke, MigrationRollback
from nexus_ml.migrate import commands
from nexus_ml.migrate.dbmap import load_map
from tests.support.pg import fresh_database


def transport(status: dict[str, int]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        code = status.get(request.url.path)
        if code is None:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(code)

    return httpx.MockTransport(answer)


def test_smoke_passes_when_every_url_answers_below_400() -> None:
    smoke = HttpSmoke(
        ["http://127.0.0.1:1/healthz", "http://127.0.0.1:1/ready"],
        transport=transport({"/healthz": 200, "/ready": 204}),
    )
    assert smoke() == [
        "smoke http://127.0.0.1:1/healthz: HTTP 200",
        "smoke http://127.0.0.1:1/ready: HTTP 204",
    ]


@pytest.mark.parametrize(
    ("status", "message"),
    [({"/healthz": 503}, "answered HTTP 503"), ({}, "failed: ConnectError")],
)
def test_smoke_fails_on_an_error_status_or_no_answer(status: dict[str, int], message: str) -> None:
    smoke = HttpSmoke(["http://127.0.0.1:1/healthz"], transport=transport(status))
    with pytest.raises(NexusError, match=message):
        smoke()


@pytest.mark.integration
def test_a_database_without_a_release_since_is_left_alone(pg_dsn: str) -> None:
    with fresh_database(pg_dsn, "exec_db") as erp:
        graph = commands.load_graph()
        commands.all_modules(erp, graph, load_map(), release="v1")
        database = MigrationRollback(erp, graph, load_map())
        assert database.rollback_since(datetime.now(UTC)) == (
            "no migration release since the failed release"
        )
        lines = database.verify()
        assert lines[0].startswith("migration history matches the files")
