"""``nexus-ml forecast``: forecast protocol v1 backtests over a folder of traces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nexus_ml.cli.common import console, exits_cleanly
from nexus_ml.errors import InputError

DEFAULT_MODELS = "nexus,seasonal_naive,statsforecast_mstl"


def register(app: typer.Typer) -> None:
    forecast_app = typer.Typer(help="Demand forecasts: backtests of the forecaster.")
    app.add_typer(forecast_app, name="forecast")

    @forecast_app.command("backtest")
    @exits_cleanly
    def backtest(
        folder: Annotated[
            Path, typer.Argument(help="Folder of trace CSVs (ts,value or TimeStamp,Value,Label)")
        ],
        json_out: Annotated[
            Path | None, typer.Option("--json", help="Write the scores as JSON here")
        ] = None,
        models: Annotated[
            str,
            typer.Option(help="Comma-separated models: nexus, seasonal_naive, statsforecast_mstl"),
        ] = DEFAULT_MODELS,
    ) -> None:
        """Run forecast protocol v1 (../shared/BENCHMARKS.md) on every trace of FOLDER."""
        from nexus_ml.evaluate.forecast_backtest import run_backtest, trace_files

        names = [m.strip() for m in models.split(",") if m.strip()]
        if not names:
            raise InputError(f"--models needs at least one model, got {models!r}")
        total = len(trace_files(folder))
        progress = Progress(
            TextColumn("[bold]backtest"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        with progress:
            task = progress.add_task("", total=total)
            report = run_backtest(
                folder,
                model_names=names,
                on_trace=lambda name: progress.update(task, advance=1, description=name),
            )
        console.print(scores_table(report.to_json()))
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(report.to_json(), indent=2))
            console.print(f"scores written to {json_out}")


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def scores_table(result: dict[str, Any]) -> Table:
    """The rich table of a backtest JSON (per trace and aggregate)."""
    table = Table(title="Forecast protocol v1 (relative MASE: lower is better)")
    table.add_column("trace", style="bold")
    table.add_column("model", no_wrap=True)
    for col in ("relative MASE", "MASE", "coverage 80%", "width/scale", "seconds"):
        table.add_column(col, justify="right")
    rows: list[tuple[str, dict[str, Any]]] = [
        *result["traces"].items(),
        ("aggregate", result["aggregate"]),
    ]
    for trace, scores in rows:
        for i, (model, s) in enumerate(scores.items()):
            table.add_row(
                trace if i == 0 else "",
                model,
                _fmt(s["relative_mase"], ".3f"),
                _fmt(s["mase"], ".3f"),
                _fmt(s["coverage80"], ".1%"),
                _fmt(s["width"], ".2f"),
                _fmt(s["seconds"], ".2f"),
            )
        table.add_section()
    return table
