"""``nexus-ml train`` and ``retrain`` at the boundary: bad input gives one line and an exit code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from nexus_ml.cli.main import app
from nexus_ml.settings import get_settings
from tests.pipelines.conftest import MODULES


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NEXUS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("NEXUS_PROMETHEUS_URL", raising=False)
    monkeypatch.delenv("NEXUS_MLFLOW_TRACKING_URI", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stderr  # progress goes to stdout, the error to stderr


def one_error_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


def test_missing_file(tmp_path: Path) -> None:
    code, out = invoke("train", "--from", str(tmp_path / "nope.parquet"), "--store", "local")
    assert code == 2
    assert "no such file" in one_error_line(out) and "nope.parquet" in out


def test_no_source_configured() -> None:
    code, out = invoke("train", "--store", "local")
    assert code == 2 and "NEXUS_PROMETHEUS_URL" in one_error_line(out)


def test_low_coverage_is_refused(sim_frame: pd.DataFrame, tmp_path: Path) -> None:
    frame = sim_frame.loc[sim_frame["module"] == MODULES[0]].drop(
        columns=["replicas", "demand_rpm"]
    )
    frame.loc[frame.index[::2], "requests_per_min"] = np.nan  # half missing
    path = tmp_path / "holey.parquet"
    frame.to_parquet(path)
    code, out = invoke(
        "train",
        "--from",
        str(path),
        "-m",
        MODULES[0],
        "--days",
        "8",
        "--step",
        "300",
        "--store",
        "local",
    )
    assert code == 3
    line = one_error_line(out)
    assert "coverage below 90%" in line and MODULES[0] in line
    assert not (tmp_path / "state" / "models").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("train", "-m", "nexus-nope"), "unknown module 'nexus-nope'"),
        (("train", "--fields", "cpu_usage,bogus"), "unknown field(s) bogus"),
        (("train", "--store", "s3"), "--store must be mlflow or local, got 's3'"),
        (("retrain", "--every", "1y"), "--every must look like 30m, 6h or 1d, got '1y'"),
        (("retrain", "--cron", "not cron"), "not a valid cron expression: 'not cron'"),
        (("retrain",), "give exactly one of --every or --cron"),
    ],
)
def test_bad_arguments(
    sim_frame: pd.DataFrame, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "ok.parquet"
    sim_frame.iloc[:10].to_parquet(path)
    extra = ("--from", str(path)) if args[0] == "train" else ()
    code, out = invoke(*args, *extra)
    assert code == 2
    assert message in one_error_line(out)
