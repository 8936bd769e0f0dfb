"""``nexus-ml release judge`` and ``show``: verdicts, exit codes, bad input → exit 2, one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexus_ml.cli.main import app
from nexus_ml.settings import get_settings

from .helpers import samples, write_csv

runner = CliRunner()


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NEXUS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("NEXUS_PG_DSN", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "base": write_csv(tmp_path / "b.csv", samples(1)),
        "good": write_csv(tmp_path / "good.csv", samples(2)),
        "slow": write_csv(tmp_path / "slow.csv", samples(2, latency=250.0)),
    }


def judge(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["release", "judge", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_verdicts_and_exit_codes(files: dict[str, Path]) -> None:
    code, out, _ = judge("-b", str(files["base"]), "-c", str(files["good"]), "--json")
    body = json.loads(out)
    assert code == 0 and body["verdict"] == "Successful"
    assert {m["name"] for m in body["metrics"]} >= {"latency_ms", "error_rate"}
    assert all("p_value" in m and "effect" in m and "reason" in m for m in body["metrics"])
    code, out, _ = judge("-b", str(files["base"]), "-c", str(files["slow"]), "--json")
    assert code == 1 and json.loads(out)["verdict"] == "Failed"


def test_release_status_rollback_fails_and_inconclusive_exits_2(
    files: dict[str, Path], tmp_path: Path
) -> None:
    code, out, _ = judge(
        "-b",
        str(files["base"]),
        "-c",
        str(files["good"]),
        "--json",
        "--update-state",
        "rollback_completed",
    )
    assert code == 1 and "rolled the candidate back" in json.loads(out)["reason"]
    dead = write_csv(tmp_path / "dead.csv", samples(3, latency_nan_every=1))
    code, out, _ = judge("-b", str(files["base"]), "-c", str(dead), "--json")
    assert code == 2 and json.loads(out)["verdict"] == "Inconclusive"


def test_table_output(files: dict[str, Path]) -> None:
    code, out, _ = judge("-b", str(files["base"]), "-c", str(files["slow"]))
    assert code == 1
    assert "latency_ms" in out and "Failed" in out and "critical" in out


def test_bad_csv_exits_2_naming_file_row_column_value(
    files: dict[str, Path], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,metric,value\n1790000000,latency_ms,12\n1790000015,latency_ms,12ms\n")
    code, out, err = judge("-b", str(files["base"]), "-c", str(bad), "--json")
    assert code == 2 and out == ""
    assert str(bad) in err and "row 3, column value: bad value '12ms'" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_bad_config_and_state_exit_2(files: dict[str, Path], tmp_path: Path) -> None:
    cfg = tmp_path / "judge.yaml"
    cfg.write_text("metrics:\n  - name: latency_ms\n    weight: -1\n")
    code, _, err = judge("-b", str(files["base"]), "-c", str(files["good"]), "--config", str(cfg))
    assert code == 2 and "metrics[0].weight" in err and "-1" in err
    code, _, err = judge(
        "-b", str(files["base"]), "-c", str(files["good"]), "--update-state", "rolled"
    )
    assert code == 2 and "--update-state" in err and "'rolled'" in err
    code, _, err = judge("-b", str(files["base"]), "-c", str(files["good"]), "--id", "../x")
    assert code == 2 and "release id" in err


def test_id_stores_the_verdict_for_show(files: dict[str, Path]) -> None:
    code, _, _ = judge(
        "-b", str(files["base"]), "-c", str(files["slow"]), "--id", "crm-2.1", "--json"
    )
    assert code == 1
    shown = runner.invoke(app, ["release", "show", "crm-2.1"])
    assert shown.exit_code == 1 and json.loads(shown.stdout)["verdict"] == "Failed"
    missing = runner.invoke(app, ["release", "show", "nope"])
    assert missing.exit_code == 2 and "no release verdict 'nope'" in missing.stderr


def test_a_failed_release_of_a_module_opens_its_crisis_incident(
    files: dict[str, Path], tmp_path: Path
) -> None:
    from nexus_ml.crisis.record_stores import record_store_for

    args = ("-b", str(files["base"]), "-c", str(files["slow"]), "--id", "crm-2-1")
    code, out, _ = judge(*args, "--module", "nexus-crm")
    assert code == 1 and "incident" in out and "nexus-crm" in out
    incident = record_store_for(get_settings()).open_for("nexus-crm")
    assert incident is not None and incident.source == "release_gate"
    assert "crm-2-1 judged Failed" in incident.trigger
    # a good release of another module opens nothing
    code, _, _ = judge("-b", str(files["base"]), "-c", str(files["good"]), "--module", "nexus-ml")
    assert code == 0 and record_store_for(get_settings()).open_for("nexus-ml") is None
