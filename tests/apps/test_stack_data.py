"""The one resolver of the real data sets and the fixture over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.stack import data
from tests.conftest import SharedData


def test_data_dir_is_the_environment_else_beside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NEXUS_DATA_DIR", raising=False)
    assert data.data_dir() == data.REPO.parent / "shared" / "data"
    monkeypatch.setenv("NEXUS_DATA_DIR", str(tmp_path))
    assert data.data_dir() == tmp_path


def test_a_file_is_served_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "traces").mkdir()
    (tmp_path / "traces" / "one.csv").write_text("ds,y\n")
    monkeypatch.setenv("NEXUS_DATA_DIR", str(tmp_path))
    served = SharedData()
    assert served.file("traces/one.csv") == tmp_path / "traces" / "one.csv"
    assert served.served == ["traces/one.csv"]


def test_a_missing_file_fails_naming_it_and_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEXUS_DATA_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        data.data_file("traces/crane/input0.csv")
    assert "'traces/crane/input0.csv'" in str(err.value) and str(tmp_path) in str(err.value)
    assert "$NEXUS_DATA_DIR" in str(err.value)
    with pytest.raises(pytest.fail.Exception, match=r"traces/crane/input0\.csv.*not shared_data"):
        SharedData().file("traces/crane/input0.csv")
