"""NAB tooling end to end: ``nexus-ml anomaly nab-run`` and ``nab-score`` on real NAB files."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from nexus_ml.cli.main import app
from nexus_ml.evaluate.nab.labels import windows_from_point_labels
from nexus_ml.evaluate.nab.runner import run_corpus
from nexus_ml.evaluate.nab.scoring import probationary_length
from tests.conftest import SharedData

SMOKE_FILES = ["realTraffic/speed_7578.csv", "realKnownCause/rogue_agent_key_hold.csv"]

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def nab(shared_data: SharedData) -> Path:
    return shared_data.file("anomaly/nab")


@pytest.fixture(scope="module")
def smoke_results(nab: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nab") / "nexus"
    runs = run_corpus(nab / "data", out, files=SMOKE_FILES, n_jobs=2)
    assert [r.relative_path for r in runs] == sorted(SMOKE_FILES)
    return out


def test_nab_run_writes_one_causal_result_per_file(nab: Path, smoke_results: Path) -> None:
    for rel in SMOKE_FILES:
        data = pd.read_csv(nab / "data" / rel)
        result = pd.read_csv(smoke_results / rel)
        assert list(result.columns) == ["timestamp", "value", "anomaly_score"]
        assert len(result) == len(data)
        assert (pd.to_datetime(result["timestamp"]) == pd.to_datetime(data["timestamp"])).all()
        scores = result["anomaly_score"]
        assert scores.between(0, 1).all()
        assert (scores.iloc[: probationary_length(len(data))] == 0).all()


def test_nab_score_cli_scores_our_results(nab: Path, smoke_results: Path, tmp_path: Path) -> None:
    all_windows = json.loads((nab / "labels" / "combined_windows.json").read_text())
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({k: all_windows[k] for k in SMOKE_FILES}))
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(
        app,
        ["anomaly", "nab-score", str(smoke_results), "--labels", str(labels), "--json", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "reward_low_FN_rate" in result.output
    scores = json.loads(out.read_text())["nexus"]
    assert set(scores) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    # better than never alarming on files with 6 labelled windows
    assert scores["standard"]["score"] > 0
    assert scores["standard"]["tp_windows"] >= 1


def test_nab_score_cli_on_nab_reference_layout(nab: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.json"
    result = CliRunner().invoke(
        app,
        [
            "anomaly",
            "nab-score",
            str(nab / "reference_results"),
            "--labels",
            str(nab / "labels" / "combined_windows.json"),
            "--data-dir",
            str(nab / "data"),
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(out.read_text())
    official = json.loads(
        (nab / "reference_results" / "official_scores_dev_subset.json").read_text()
    )
    for detector in ("numenta", "windowedGaussian"):
        got = scores[detector]["standard"]["score"]
        assert got == pytest.approx(official[detector]["standard"], abs=0.1)


def test_nab_run_cli_rejects_a_missing_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["anomaly", "nab-run", str(tmp_path / "nope"), str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_point_labels_become_centred_windows_merged_when_touching() -> None:
    labels = [0] * 100
    labels[50] = 1
    assert windows_from_point_labels(labels) == ((45, 55),)  # type: ignore[arg-type]
    labels[51] = 1  # width int(10 % · 100 / 2) = 5: [48, 52] and [49, 53] overlap → one window
    assert windows_from_point_labels(labels) == ((48, 53),)  # type: ignore[arg-type]
    assert windows_from_point_labels([0] * 10) == ()  # type: ignore[arg-type]
