"""``nexus-ml demo`` (``make demo``): the embedded end-to-end demonstration.

For now: simulate four weeks of the ERP, summarise each module, plot a week of demand.
The steps live in :mod:`nexus_ml.demo`; this module only composes and renders them.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import typer

from nexus_ml.cli.common import console, exits_cleanly, settings


def _ratio(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.1f}×"


def register(app: typer.Typer) -> None:
    @app.command("demo")
    @exits_cleanly
    def demo(
        days: float = typer.Option(28.0, help="Days to simulate"),
        out: Path = typer.Option(Path("out"), help="Folder for the demo's outputs"),
        seed: int = typer.Option(0, help="Random seed"),
        catalog: Path | None = typer.Option(None, help="Catalog YAML (default: bundled)"),
        loop: bool = typer.Option(True, "--loop/--no-loop", help="Run the whole loop (step 4)"),
        train: bool = typer.Option(
            True, "--train/--no-train", help="Train champions before the loop (step 4)"
        ),
    ) -> None:
        """Simulate the ERP for DAYS, print a per-module summary and plot a week of demand."""
        from rich.progress import BarColumn, Progress, TextColumn
        from rich.table import Table

        from nexus_ml import demo as steps
        from nexus_ml.catalog import load_catalog

        began = time.perf_counter()
        cat = load_catalog(catalog or settings().catalog_path)
        config = steps.DemoConfig(days=days, seed=seed, out_dir=out)
        incidents = steps.demo_incidents(cat, config.start, config.days)
        console.rule("[bold]1. simulate the ERP")
        with Progress(
            TextColumn("simulating"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("simulate", total=len(cat.modules))
            frame = steps.simulate(
                cat, config, incidents, progress=lambda d, t: bar.update(task, completed=d)
            )
        console.print(
            f"{len(frame):,} rows: {len(cat.modules)} modules × {days:g} days × 1 minute, "
            f"from {config.start:%Y-%m-%d} (seed {seed}), {len(incidents)} incidents injected"
        )

        console.rule("[bold]2. per-module summary")
        summary = steps.summarise(frame, incidents)
        table = Table(title="Simulated ERP modules (demand in requests/min)")
        rows = [
            (
                str(row.module).removeprefix("nexus-"),
                f"{row.mean_rpm:,.0f}",
                f"{row.peak_rpm:,.0f}",
                _ratio(row.business_night_ratio),
                _ratio(row.month_end_ratio),
                f"{row.replicas_mean:.1f}/{row.replicas_max}",
                f"{row.p95_response_ms:,.0f}",
                f"{row.mean_error_rate:.2%}",
            )
            for row in summary.itertuples()
        ]
        headers = ("module", "mean", "peak", "biz/nt", "m-end", "repl", "p95 ms", "errors")
        for i, col in enumerate(headers):
            table.add_column(col, justify="left" if i == 0 else "right", no_wrap=True)
        for cells in rows:
            table.add_row(*cells)
        console.print(table)
        for row in summary.itertuples():
            if row.incidents:
                kinds = str(row.incidents).replace("_", " ")
                console.print(f"incidents seen in {row.module}: {kinds}")
        console.print(
            "[dim]biz/nt: mean demand weekdays 09–18 / nights 00–06 (local time); m-end: last 3 "
            "days of the month / days 10–20; repl: replicas mean/max; p95 ms: of the per-minute "
            "response time[/dim]"
        )

        console.rule("[bold]3. plot a week of demand")
        png = steps.plot_demand_week(
            steps.with_capacity(frame, cat), config.out_dir / "demand_week.png"
        )
        console.print(f"demand plot: [bold]{png}[/bold]")
        if loop:  # step 4 lives in apps.loop_demo
            import logging

            from apps.loop_demo import LoopDemoConfig, run_loop_demo

            console.rule("[bold]4. the whole loop: service → executor through a month-end day")
            for noisy in ("httpx", "nexus_ml.execute"):  # step 4 prints its own event lines
                logging.getLogger(noisy).setLevel(logging.WARNING)
            result = run_loop_demo(
                cat,
                LoopDemoConfig(seed=seed, out_dir=out, train=train),
                on_event=lambda line: console.print(line, highlight=False, markup=False),
            )
            day = Table(title="The replayed day, per module")
            for col in (
                "module",
                "min over capacity below max",
                "min over capacity at max",
                "replica-h",
                "vs sized to demand",
                "actions",
                "skips",
            ):
                day.add_column(col, justify="left" if col == "module" else "right")
            for m in result.modules:
                ratio = m.replica_hours / m.oracle_replica_hours if m.oracle_replica_hours else 0
                day.add_row(
                    m.module.removeprefix("nexus-"),
                    str(m.overloaded_below_max_min),
                    str(m.overloaded_at_max_min),
                    f"{m.replica_hours:.1f}",
                    f"{ratio:.2f}×",
                    str(m.actions),
                    str(m.skips),
                )
            console.print(day)
            console.print(
                f"{len(result.actions)} actions and {len(result.alerts)} alerts in "
                f"{result.ticks} executor passes; audit trail: {out}/audit.jsonl; "
                f"trace: {result.trace_csv}; demand vs replicas: [bold]{result.plot}[/bold]"
            )
        console.print(
            f"outputs in [bold]{config.out_dir}/[/bold] ({time.perf_counter() - began:.1f} s)"
        )
