"""``nexus-ml prometheus backfill``: load a metric-frame history into Prometheus TSDB blocks."""

from __future__ import annotations

from pathlib import Path

import typer

from nexus_ml.cli.common import console, exits_cleanly


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Prometheus helpers: history backfill.", no_args_is_help=True)
    app.add_typer(group, name="prometheus")

    @group.command("backfill")
    @exits_cleanly
    def backfill_cmd(
        history: Path = typer.Argument(..., help="Metric frame (.parquet or .csv)"),
        tsdb: Path = typer.Option(..., "--tsdb", help="Prometheus TSDB directory to write blocks"),
        promtool: str | None = typer.Option(None, help="promtool executable (default: PATH)"),
        block: str = typer.Option("24h", help="--max-block-duration for promtool"),
        keep_openmetrics: Path | None = typer.Option(
            None, help="Directory to keep the OpenMetrics files written for promtool"
        ),
    ) -> None:
        """Write HISTORY as `nexus:<field>{module}` series into TSDB blocks (promtool)."""
        from nexus_ml.durations import parse_duration
        from nexus_ml.ingest.backfill import backfill
        from nexus_ml.ingest.frame_source import read_metric_frame

        frame = read_metric_frame(history)
        with console.status(f"backfilling {len(frame)} rows with promtool"):
            result = backfill(
                frame,
                tsdb,
                promtool=promtool,
                max_block_duration=parse_duration(block),
                keep_openmetrics=keep_openmetrics,
            )
        console.print(
            f"wrote {result.samples} samples in {len(result.blocks)} block(s) to {tsdb}; "
            f"start Prometheus with --storage.tsdb.path={tsdb} and a retention covering them"
        )
