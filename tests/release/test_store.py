"""Stored verdicts: files under the state dir, and PostgreSQL (integration, real server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from nexus_ml.errors import InputError, NotFoundError
from nexus_ml.release.judge import judge
from nexus_ml.release.store import (
    FileReleaseStore,
    PostgresReleaseStore,
    ReleaseStore,
    release_store_for,
)
from nexus_ml.release.verdict import Verdict
from tests.support.pg import fresh_database

from .helpers import samples


def verdict(release_id: str | None, latency: float = 200.0) -> Verdict:
    return judge(samples(1), samples(2, latency=latency), release_id=release_id)


def round_trip(store: ReleaseStore) -> None:
    good = verdict("crm-2.1")
    store.save(good)
    assert store.get("crm-2.1") == good
    worse = verdict("crm-2.1", latency=260.0)
    store.save(worse)  # judged again: replaced
    assert store.get("crm-2.1").verdict == "Failed"
    with pytest.raises(NotFoundError, match="'other'"):
        store.get("other")
    with pytest.raises(InputError, match="release id"):
        store.get("../../etc/passwd")
    with pytest.raises(InputError, match="needs an id"):
        store.save(verdict(None))


def test_file_store(tmp_path: Path) -> None:
    store = FileReleaseStore(tmp_path / "releases")
    round_trip(store)
    assert sorted(p.name for p in (tmp_path / "releases").iterdir()) == ["crm-2.1.json"]


def test_factory_picks_files_without_a_dsn(tmp_path: Path) -> None:
    store = release_store_for(tmp_path, None)
    assert isinstance(store, FileReleaseStore) and store.root == tmp_path / "releases"
    assert isinstance(
        release_store_for(tmp_path, "postgresql://x@127.0.0.1/db"), PostgresReleaseStore
    )


@pytest.fixture(scope="module")
def db(pg_dsn: str) -> Iterator[str]:
    with fresh_database(pg_dsn, "release_store") as dsn:
        yield dsn


@pytest.mark.integration
def test_postgres_store(db: str) -> None:
    store = PostgresReleaseStore(db, schema="nexus_releases_t")
    round_trip(store)
    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT id, verdict FROM nexus_releases_t.verdicts").fetchall()
    assert rows == [("crm-2.1", "Failed")]
    # a second store (another service replica) reads the same verdict
    assert PostgresReleaseStore(db, schema="nexus_releases_t").get("crm-2.1").verdict == "Failed"


def test_postgres_unreachable_does_not_leak_the_dsn() -> None:
    store = PostgresReleaseStore("postgresql://u:s3cret-pw@127.0.0.1:1/db")
    with pytest.raises(Exception) as err:
        store.get("x")
    assert "s3cret-pw" not in str(err.value) and "unreachable" in str(err.value)
