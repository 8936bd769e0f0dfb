"""The incident store: round trip, ids, retention purge on a fake clock, no secrets on disk."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from nexus_ml.crisis import CollectedIncident, IncidentStore
from nexus_ml.domain.crisis import ErrorType
from nexus_ml.errors import InputError, NotFoundError
from nexus_ml.execute.audit import AuditEntry, MemoryAudit, Redactor
from nexus_ml.sim import BadRelease, ErrorBurst, LatencyDegradation
from tests.crisis.conftest import Collect, at

BURST = ErrorBurst(module="crm", start=at(15), duration=timedelta(hours=1), magnitude=0.2)


def reopened(incident: CollectedIncident) -> CollectedIncident:
    manifest = incident.manifest.model_copy(update={"ended_at": None})
    return CollectedIncident(manifest, incident.frame, incident.evidence, incident.reference)


def test_round_trip(tmp_path: Path, collect: Collect) -> None:
    release = BadRelease(module="crm", start=at(15), duration=timedelta(hours=1), magnitude=1.0)
    audit = MemoryAudit()
    audit.write(AuditEntry(at=at(15), event="deploy", module="nexus-crm", data={"version": "2"}))
    incident = collect(ErrorType.API_BREAKING, [release], audit=audit)
    store = IncidentStore(tmp_path / "incidents")
    manifest = store.save(incident)
    loaded = store.load(manifest.id)
    assert loaded.manifest == incident.manifest
    pd.testing.assert_frame_equal(loaded.frame, incident.frame)
    assert loaded.reference is not None and incident.reference is not None
    pd.testing.assert_frame_equal(loaded.reference, incident.reference)
    assert loaded.evidence == incident.evidence
    folder = store.folder(manifest.id)
    assert sorted(p.name for p in folder.iterdir()) == [
        "evidence.json", "manifest.json", "metrics.parquet", "reference.parquet",
    ]  # fmt: skip
    assert [m.id for m in store.manifests()] == [manifest.id]


def test_same_incident_twice_gets_a_new_id(tmp_path: Path, collect: Collect) -> None:
    incident = collect(ErrorType.ERROR_BURST, [BURST])
    store = IncidentStore(tmp_path)
    first, second = store.save(incident), store.save(incident)
    assert first.id == "20260309T1500Z-crm-error-burst"
    assert second.id == first.id + "-2"
    assert {m.id for m in store.manifests()} == {first.id, second.id}


def test_purge_follows_each_type_s_retention_and_never_an_open_incident(
    tmp_path: Path, collect: Collect
) -> None:
    store = IncidentStore(tmp_path)
    ui = store.save(collect(ErrorType.UI_BUG, [BURST]))  # 14 days
    crash = store.save(collect(ErrorType.CRASH, [BURST]))  # 90 days
    db = store.save(collect(ErrorType.DATABASE_CORRUPTION, [BURST]))  # 365 days
    still_open = store.save(reopened(collect(ErrorType.UI_BUG, [BURST])))
    end = BURST.end

    def ids() -> set[str]:
        return {m.id for m in store.manifests()}

    assert store.purge(end + timedelta(days=14) - timedelta(seconds=1)) == []
    assert store.purge(end + timedelta(days=14)) == [ui.id]
    assert store.purge(end + timedelta(days=89)) == []
    assert store.purge(end + timedelta(days=90)) == [crash.id]
    assert ids() == {db.id, still_open.id}
    assert store.purge(end + timedelta(days=365)) == [db.id]
    assert store.purge(end + timedelta(days=3650)) == []
    assert ids() == {still_open.id}  # open: never purged
    assert not (tmp_path / ui.id).exists()

    closed = store.close(still_open.id, end + timedelta(days=4000))
    assert closed.expires_at == end + timedelta(days=4014)
    assert store.purge(end + timedelta(days=4013)) == []
    assert store.purge(end + timedelta(days=4014)) == [still_open.id]
    assert ids() == set()


def test_close_before_start_is_refused(tmp_path: Path, collect: Collect) -> None:
    store = IncidentStore(tmp_path)
    manifest = store.save(reopened(collect(ErrorType.CRASH, [BURST])))
    with pytest.raises(InputError, match="before the start"):
        store.close(manifest.id, BURST.start - timedelta(minutes=1))
    assert store.manifest(manifest.id).is_open


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", ".hidden", ".."])
def test_ids_that_could_leave_the_store_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(InputError, match="not a valid incident id"):
        IncidentStore(tmp_path).load(bad)


def test_unknown_id_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="'nope'"):
        IncidentStore(tmp_path).load("nope")
    assert IncidentStore(tmp_path / "never-made").manifests() == []


def test_secrets_never_reach_the_disk(tmp_path: Path, collect: Collect, catalog: object) -> None:
    from nexus_ml.crisis import collect_incident, load_collection_plans
    from nexus_ml.ingest import FrameSource
    from tests.crisis.conftest import NOW, history

    secret = "s3cr3t-bot-token"
    crash = LatencyDegradation(module="crm", start=at(12), duration=timedelta(hours=4), magnitude=4)
    audit = MemoryAudit()  # a trail written without a redactor: collection must still mask
    audit.write(AuditEntry(at=at(13), event="action_failed", module="nexus-crm",
                           detail=f"telegram said 401 for bot{secret}",
                           data={"url": f"https://api/bot{secret}/send"}))  # fmt: skip
    incident = collect_incident(
        module="crm",
        error_type=ErrorType.CRASH,
        started_at=crash.start,
        ended_at=crash.end,
        plan=load_collection_plans().for_type(ErrorType.CRASH),
        source=FrameSource(history(crash)),
        catalog=catalog,  # type: ignore[arg-type]
        now=NOW,
        audit=audit,
        redactor=Redactor([secret]),
        source_name="http://admin:pa55word@127.0.0.1:9090",
    )
    store = IncidentStore(tmp_path)
    manifest = store.save(incident)
    assert manifest.source == "http://***@127.0.0.1:9090"
    for path in store.folder(manifest.id).iterdir():
        raw = path.read_bytes()
        assert secret.encode() not in raw and b"pa55word" not in raw, path.name
    assert "***" in str(store.load(manifest.id).evidence["audit"])


def test_concurrent_saves_of_one_incident_get_distinct_ids(
    tmp_path: Path, collect: Collect
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    incident = collect(ErrorType.ERROR_BURST, [BURST])
    store = IncidentStore(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        ids = [m.id for m in pool.map(lambda _: store.save(incident), range(8))]
    assert len(set(ids)) == 8
    assert {m.id for m in store.manifests()} == set(ids)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]
    for incident_id in ids:  # each folder's manifest names its own folder
        assert store.manifest(incident_id).id == incident_id
