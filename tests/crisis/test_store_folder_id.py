"""Issue 19: the folder name is an incident's id; a manifest that says otherwise is damage."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from nexus_ml.crisis.store import IncidentStore
from nexus_ml.domain.crisis import ErrorType
from nexus_ml.errors import InputError
from nexus_ml.sim import BadRelease

from .conftest import Collect, at
from .test_store import reopened


def test_purge_never_deletes_an_open_incident_through_a_copied_manifest(
    tmp_path: Path, collect: Collect
) -> None:
    release = BadRelease(module="crm", start=at(15), duration=timedelta(hours=1), magnitude=1.0)
    store = IncidentStore(tmp_path / "incidents")
    original = store.save(reopened(collect(ErrorType.API_BREAKING, [release])))
    assert original.ended_at is None  # open
    copy = store.root / "copy-of-it"
    shutil.copytree(store.root / original.id, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["ended_at"] = manifest["started_at"]  # closed long ago: expired by now
    (copy / "manifest.json").write_text(json.dumps(manifest))

    far_future = original.started_at + timedelta(days=36_500)
    assert store.purge(far_future) == []
    assert (store.root / original.id / "manifest.json").is_file()  # the open original stays
    assert copy.is_dir()  # the damaged copy is left for a human, not guessed at
    with pytest.raises(InputError, match="manifest says"):
        store.manifest("copy-of-it")
    assert [m.id for m in store.manifests()] == [original.id]


def test_a_damaged_folder_is_an_input_error(tmp_path: Path, collect: Collect) -> None:
    release = BadRelease(module="crm", start=at(15), duration=timedelta(hours=1), magnitude=1.0)
    store = IncidentStore(tmp_path / "incidents")
    saved = store.save(collect(ErrorType.API_BREAKING, [release]))
    (store.root / saved.id / "metrics.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match="damaged folder"):
        store.load(saved.id)
    (store.root / saved.id / "manifest.json").write_bytes(b"\xff{")
    with pytest.raises(InputError, match="damaged folder"):
        store.manifest(saved.id)
