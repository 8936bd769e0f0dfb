"""``nexus-ml train --dask``: without the extra or a reachable scheduler, one clear line."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from nexus_ml.cli.main import app
from nexus_ml.settings import get_settings
from tests.pipelines.conftest import MODULES


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NEXUS_STATE_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def data(sim_frame: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "history.parquet"
    sim_frame.loc[sim_frame["module"] == MODULES[0]].to_parquet(path)
    return path


def train_on(address: str, data: Path) -> tuple[int, str]:
    args = ["train", "--from", str(data), "-m", MODULES[0], "--step", "300", "--days", "3"]
    result = CliRunner().invoke(app, [*args, "--store", "local", "--dask", address])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, lines[0]


def test_a_missing_extra_names_the_install_command(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes the import fail as it does in an install without the extra.
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    code, line = train_on("tcp://127.0.0.1:8786", data)
    assert code == 2
    assert "pip install 'nexus-ml[dask]'" in line and "--dask" in line
    assert not (data.parent / "state" / "models").exists()


def test_an_unreachable_scheduler_is_named(data: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, line = train_on(f"tcp://127.0.0.1:{port}", data)
    assert code == 2
    assert f"cannot reach the Dask scheduler at 'tcp://127.0.0.1:{port}'" in line


@pytest.mark.parametrize("address", ["127.0.0.1", "bogus://127.0.0.1:8786"])
def test_a_malformed_address_is_refused(data: Path, address: str) -> None:
    code, line = train_on(address, data)
    assert code == 2
    assert f"{address!r} is not a scheduler address" in line
