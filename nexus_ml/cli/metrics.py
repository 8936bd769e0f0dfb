"""``nexus-ml metrics fetch``: a metric frame from Prometheus (or the simulator) to a file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from nexus_ml.cli.common import console, exits_cleanly, settings
from nexus_ml.durations import parse_duration
from nexus_ml.errors import InputError


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"not an ISO 8601 time: {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Metric frames: fetch from Prometheus.", no_args_is_help=True)
    app.add_typer(group, name="metrics")

    @group.command("fetch")
    @exits_cleanly
    def fetch(
        module: list[str] = typer.Option(
            [], "--module", "-m", help="Module (repeatable; default all)"
        ),
        since: str = typer.Option("1d", help="How far back from --end (e.g. 7d, 12h)"),
        start: str | None = typer.Option(None, help="ISO start (overrides --since)"),
        end: str | None = typer.Option(None, help="ISO end (default: now)"),
        step: str = typer.Option("1m", help="Step of the grid (e.g. 1m, 5m)"),
        out: Path = typer.Option(..., "--out", "-o", help="Output .parquet or .csv"),
        prometheus_url: str | None = typer.Option(None, help="Prometheus URL (default: settings)"),
        queries: Path | None = typer.Option(None, help="Query catalog YAML (default: bundled)"),
    ) -> None:
        """Fetch a metric frame with its data-quality report and write it to --out."""
        from nexus_ml.catalog import load_catalog

        cfg = settings()
        catalog = load_catalog(cfg.catalog_path)
        modules = [catalog.get(m).name for m in module] or list(catalog.names)
        t_end = _parse_time(end) if end else datetime.now(UTC)
        t_start = _parse_time(start) if start else t_end - parse_duration(since)
        grid_step = parse_duration(step)
        if out.suffix.lower() not in (".parquet", ".csv"):
            raise InputError(f"--out must end in .parquet or .csv, got {out.name!r}")
        from nexus_ml.ingest.factory import prometheus_source
        from nexus_ml.ingest.queries import load_query_catalog
        from nexus_ml.redact import redact

        source = prometheus_source(
            cfg, url=prometheus_url, query_catalog=load_query_catalog(queries)
        )
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            if source is not None:
                task = bar.add_task(f"querying {redact(source.url)}", total=None)
                result = source.fetch(
                    modules,
                    t_start,
                    t_end,
                    grid_step,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
                source.close()
            else:  # no Prometheus configured: the embedded simulator answers
                from nexus_ml.ingest.frame_source import FrameSource
                from nexus_ml.sim import simulate_history

                task = bar.add_task("simulating (no Prometheus configured)", total=None)
                days = (t_end - t_start + grid_step) / timedelta(days=1)
                history = simulate_history(
                    catalog,
                    start=t_start,
                    days=days,
                    step_s=int(grid_step.total_seconds()),
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
                result = FrameSource(history, name="simulator").fetch(
                    modules, t_start, t_end, grid_step
                )
        frame = result.frame
        if out.suffix.lower() == ".parquet":
            frame.to_parquet(out, index=False)
        else:
            frame.to_csv(out, index=False)
        q = result.quality
        table = Table(title=f"{len(frame)} rows → {out}")
        for col in ("module", "min coverage", "longest gap", "stale", "last seen"):
            table.add_column(col)
        for m in modules:
            seen = q.last_seen.get(m)
            table.add_row(
                m,
                f"{q.min_coverage(m):.1%}",
                str(q.longest_gap.get(m, timedelta(0))),
                "yes" if q.stale.get(m) else "no",
                seen.isoformat() if seen else "—",
            )
        console.print(table)
        for issue in q.issues[:20]:
            console.print(f"[yellow]•[/yellow] {issue}", highlight=False)
        if len(q.issues) > 20:
            console.print(f"… and {len(q.issues) - 20} more issue(s)")
