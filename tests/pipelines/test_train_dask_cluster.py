"""``nexus-ml train --dask`` on a real cluster: a ``dask scheduler`` and two ``dask worker``
processes started as separate commands, as an operator would, give the models of the local
run on joblib's process pool (both pickle the tasks and the fitted models across processes).

The processes come from the venv's ``bin`` (what ``pip install 'nexus-ml[dask]'`` installs),
listen on 127.0.0.1 at free ports, and are stopped in every case; ``--idle-timeout`` and
``--death-timeout`` make them exit on their own should this process die before teardown.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from nexus_ml.cli.main import app
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.models.registry.local_store import LocalModelStore
from nexus_ml.settings import get_settings

pytestmark = pytest.mark.integration

DASK = Path(sys.executable).parent / "dask"
MODULES = ("nexus-user-management", "nexus-crm")
DAYS = "3"  # two daily seasons to fit, one day to backtest: the least training accepts
STEP_S = "600"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dask scheduler exited with {proc.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)  # the scheduler process is starting; nothing to wait on but the port
    pytest.fail(f"dask scheduler not listening on {port} after {timeout_s}s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[Path]]]:
    """The scheduler address and the two workers' log files."""
    from dask.distributed import Client

    root = tmp_path_factory.mktemp("dask-cluster")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, *args: str) -> Path:
        log = root / f"{name}.log"
        with log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [str(DASK), *args],
                    cwd=root,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        return log

    loopback = ["--host", "127.0.0.1", "--no-dashboard"]
    try:
        sched_log = start(
            "scheduler", "scheduler", *loopback, "--port", str(port), "--idle-timeout", "300s"
        )
        _wait_for_port(port, procs[0], sched_log, timeout_s=30)
        worker = [*loopback, "--nthreads", "1", "--no-nanny", "--death-timeout", "30s"]
        logs = [
            start(f"w{i}", "worker", address, *worker, "--local-directory", str(root / f"w{i}"))
            for i in (1, 2)
        ]
        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, logs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@pytest.fixture
def history(sim_frame: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "history.parquet"
    sim_frame.loc[sim_frame["module"].isin(MODULES)].to_parquet(path)
    return path


def _train(
    history: Path, state: Path, monkeypatch: pytest.MonkeyPatch, *extra: str
) -> LocalModelStore:
    monkeypatch.setenv("NEXUS_STATE_DIR", str(state))
    get_settings.cache_clear()
    args = ["train", "--from", str(history), "--step", STEP_S, "--days", DAYS, "--store", "local"]
    args += ["--fields", "requests_per_min,cpu_usage"]
    for module in MODULES:
        args += ["-m", module]
    result = CliRunner().invoke(app, [*args, *extra])
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output + result.stderr
    return LocalModelStore(state / "models")


def _meta(store: LocalModelStore, module: str) -> dict[str, Any]:
    version = store.alias_version(module, "champion") or store.alias_version(module, "challenger")
    assert version is not None, f"{module}: nothing published"
    meta: dict[str, Any] = json.loads((store.root / module / version / "meta.json").read_text())
    meta["version"] = version
    return meta


def test_training_on_a_scheduler_and_two_worker_processes_matches_the_local_run(
    cluster: tuple[str, list[Path]],
    history: Path,
    sim_frame: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dask.distributed import Client

    address, _ = cluster
    # the local run on joblib's default process pool (loky), as a production install trains
    local = _train(history, tmp_path / "local", monkeypatch, "--jobs", "2")
    with Client(address, timeout=30) as client:
        before = client.run(lambda dask_worker: dask_worker.state.executed_count)
    remote = _train(history, tmp_path / "dask", monkeypatch, "--dask", address)
    with Client(address, timeout=30) as client:
        after = client.run(lambda dask_worker: dask_worker.state.executed_count)

    # The fits ran in the worker processes, and on both of them.
    assert len(after) == 2
    ran = {worker: after[worker] - before.get(worker, 0) for worker in after}
    assert all(n > 0 for n in ran.values()), ran

    for module in MODULES:
        recent = sim_frame.loc[sim_frame["module"] == module].set_index("timestamp")
        recent = recent[list(METRIC_FIELDS)].iloc[-144::2]  # the 10-minute grid
        a, b = _meta(local, module), _meta(remote, module)
        assert a["tags"] == b["tags"]  # same fingerprint, same verdict and reason
        assert a["params"] == b["params"]
        assert a["metrics"].keys() == b["metrics"].keys()
        np.testing.assert_allclose(
            [b["metrics"][k] for k in sorted(b["metrics"])],
            [a["metrics"][k] for k in sorted(a["metrics"])],
            rtol=1e-9,
        )
        one, two = (
            local.load_version(module, a["version"]),
            remote.load_version(module, b["version"]),
        )
        assert (
            sorted(one.forecasters) == sorted(two.forecasters) == ["cpu_usage", "requests_per_min"]
        )
        for name in one.forecasters:
            pd.testing.assert_frame_equal(
                one.forecasters[name].predict(24, levels=(80,)),
                two.forecasters[name].predict(24, levels=(80,)),
                rtol=1e-9,
            )
        assert one.detector is not None and two.detector is not None
        pd.testing.assert_frame_equal(one.detector.score(recent), two.detector.score(recent))
