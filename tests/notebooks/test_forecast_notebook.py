"""The analysts' notebook runs end to end on a small simulated history."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "forecast_exploration.ipynb"


@pytest.mark.slow
def test_notebook_executes_and_plots(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = nb.cells[1]
    assert params.source.startswith("# Parameters")
    params.source += "\nDAYS = 6\n"  # the smallest history with two days before the backtest
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # forecasts vs actuals, anomaly scores
    summary = nb.cells[-1].outputs[0]["data"]["text/plain"]
    assert "requests_per_min" in summary and "coverage80" in summary
    assert "coverage of nexus-crm: 100.0%" in "".join(o.get("text", "") for o in outputs)
