"""Audit trail (PostgreSQL and JSON lines) and the leader lock on a real PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from nexus_ml.execute.audit import AuditEntry, JsonlAudit, PostgresAudit, Redactor, dsn_password
from nexus_ml.execute.leader import PgLeaderLock
from tests.support.pg import fresh_database

from .conftest import T0

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def db(pg_dsn: str) -> Iterator[str]:
    with fresh_database(pg_dsn, "exec_audit") as dsn:
        yield dsn


def entry(minutes: float, **kw: object) -> AuditEntry:
    return AuditEntry(
        at=T0 + timedelta(minutes=minutes),
        event="action_taken",
        module="nexus-crm",
        action="scale_up",
        reason="ok",
        **kw,
    )  # type: ignore[arg-type]


def test_postgres_audit_round_trip_and_since(db: str) -> None:
    audit = PostgresAudit(db, schema="nexus_audit_rt")
    for minutes in (0, 30, 90):
        audit.write(entry(minutes, detail=f"at {minutes}", data={"target": 3}))
    rows = audit.since(T0 + timedelta(minutes=20))
    assert [r.detail for r in rows] == ["at 30", "at 90"]
    assert rows[0].data == {"target": 3} and rows[0].at == T0 + timedelta(minutes=30)


def test_jsonl_audit_round_trip(tmp_path: Path) -> None:
    audit = JsonlAudit(tmp_path / "audit" / "events.jsonl")
    audit.write(entry(0, detail="first"))
    audit.write(entry(5, detail="second"))
    assert [e.detail for e in audit.since(T0 + timedelta(minutes=1))] == ["second"]
    assert len((tmp_path / "audit" / "events.jsonl").read_text().splitlines()) == 2


def test_secrets_never_reach_the_trail(db: str, tmp_path: Path) -> None:
    dsn = "postgresql://nexus:Pa55word-xyz@127.0.0.1:5432/erp"
    assert dsn_password(dsn) == "Pa55word-xyz"
    assert dsn_password("host=x password='k3y-value' user=u") == "k3y-value"
    redactor = Redactor(["123456:BOT-TOKEN-abc", "api-token-42", dsn_password(dsn)])
    leaky = entry(
        0,
        detail="POST /bot123456:BOT-TOKEN-abc/sendMessage failed",
        data={"url": dsn, "nested": ["Bearer api-token-42"]},
    )
    PostgresAudit(db, schema="nexus_audit_red", redactor=redactor).write(leaky)
    JsonlAudit(tmp_path / "a.jsonl", redactor=redactor).write(leaky)
    with psycopg.connect(db) as conn:
        stored = conn.execute("SELECT detail, data::text FROM nexus_audit_red.events").fetchone()
    file_text = (tmp_path / "a.jsonl").read_text()
    for text in (" ".join(stored), file_text):
        assert "BOT-TOKEN" not in text and "api-token-42" not in text and "Pa55word" not in text
        assert "***" in text
    assert json.loads(file_text)["data"]["url"] == "postgresql://nexus:***@127.0.0.1:5432/erp"


def test_only_one_leader_and_the_standby_takes_over(db: str) -> None:
    leader, standby = PgLeaderLock(db, name="exec-test"), PgLeaderLock(db, name="exec-test")
    try:
        assert leader.ensure() is True
        assert standby.ensure() is False
        assert leader.ensure() is True  # still held on the next tick
        pid = leader.backend_pid()
        with psycopg.connect(db, autocommit=True) as admin:  # the leader's session dies
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # Termination is asynchronous: the standby gets the lock on one of its next ticks.
        deadline = time.monotonic() + 5
        while not standby.ensure() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert standby.held
        assert leader.ensure() is False  # it notices, and the lock is no longer free
    finally:
        leader.release()
        standby.release()


def test_release_hands_over_at_once(db: str) -> None:
    a, b = PgLeaderLock(db, name="exec-test-2"), PgLeaderLock(db, name="exec-test-2")
    try:
        assert a.ensure() and not b.ensure()
        a.release()
        assert b.ensure()
    finally:
        a.release()
        b.release()
