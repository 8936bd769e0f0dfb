"""``nexus-ml forecast backtest`` on a temporary folder: table, JSON, and clean failures."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from nexus_ml.cli.main import app
from tests.evaluate.test_backtest import write_ts_value

runner = CliRunner()


def test_backtest_prints_a_table_and_writes_the_json(tmp_path: Path) -> None:
    data = tmp_path / "traces"
    data.mkdir()
    write_ts_value(data / "a.csv", 4.5, seed=1)
    out = tmp_path / "out" / "scores.json"
    result = runner.invoke(
        app, ["forecast", "backtest", str(data), "--json", str(out), "--models", "nexus"]
    )
    assert result.exit_code == 0, result.output
    assert "relative" in result.output and "seasonal_naive" in result.output
    payload = json.loads(out.read_text())
    assert set(payload["aggregate"]) == {"nexus", "seasonal_naive"}
    assert payload["aggregate"]["seasonal_naive"]["relative_mase"] == 1.0
    assert 0 < payload["aggregate"]["nexus"]["relative_mase"] < 1.5
    assert payload["traces"]["a"]["nexus"]["origins"] == 12


def test_bad_folder_and_bad_csv_exit_2_with_one_line(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["forecast", "backtest", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "not a folder" in missing.output
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    bad = runner.invoke(app, ["forecast", "backtest", str(tmp_path)])
    assert bad.exit_code == 2
    assert "bad.csv: expected columns" in bad.output and "Traceback" not in bad.output
    assert len(bad.output.strip().splitlines()) == 1
