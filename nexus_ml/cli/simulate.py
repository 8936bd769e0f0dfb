"""``nexus-ml simulate``: weeks of simulated ERP metrics to a Parquet file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer

from nexus_ml.cli.common import console, exits_cleanly, settings
from nexus_ml.errors import InputError


def parse_start(text: str | None, days: float) -> datetime:
    """``--start`` as a UTC datetime (naive = UTC); default: midnight UTC ``days`` ago."""
    if text is None:
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return today - timedelta(days=days)
    try:
        start = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"--start must be an ISO 8601 date or datetime, got {text!r}") from exc
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start
    # the simulator seeds from the start's unix time and pandas stops at 2262
    if not datetime(1970, 1, 1, tzinfo=UTC) <= start <= datetime(2200, 1, 1, tzinfo=UTC):
        raise InputError(f"--start must be between 1970 and 2200, got {text!r}")
    return start


def register(app: typer.Typer) -> None:
    @app.command("simulate")
    @exits_cleanly
    def simulate(
        days: float = typer.Option(28.0, help="Length of the history in days"),
        out: Path = typer.Option(Path("history.parquet"), help="Parquet file to write"),
        seed: int = typer.Option(0, help="Random seed (same seed, same data)"),
        start: str | None = typer.Option(
            None, help="First instant, ISO 8601 (naive = UTC); default: midnight UTC DAYS ago"
        ),
        step: int = typer.Option(60, help="Step in seconds"),
        incident: list[str] = typer.Option(
            [],
            help="Incident to inject, repeatable: kind=memory_leak,module=crm,"
            "start=2026-01-10T11:00,duration=6h,magnitude=0.4[,target=...]",
        ),
        catalog: Path | None = typer.Option(None, help="Catalog YAML (default: bundled)"),
    ) -> None:
        """Simulate DAYS of one-minute metrics for every module and write them to Parquet."""
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from nexus_ml.catalog import load_catalog
        from nexus_ml.sim import parse_incident, simulate_history

        cat = load_catalog(catalog or settings().catalog_path)
        incidents = [parse_incident(spec) for spec in incident]
        first = parse_start(start, days)
        with Progress(
            TextColumn("[bold]simulating"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("modules"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task("simulate", total=len(cat.modules))
            frame = simulate_history(
                cat,
                start=first,
                days=days,
                step_s=step,
                seed=seed,
                incidents=incidents,
                progress=lambda done, total: bar.update(task, completed=done),
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        try:
            frame.to_parquet(out, index=False)
        except OSError as exc:
            raise InputError(f"cannot write {out}: {exc.strerror}") from exc
        first_ts, last_ts = frame["timestamp"].min(), frame["timestamp"].max()
        console.print(
            f"wrote [bold]{out}[/bold]: {len(frame):,} rows, {frame['module'].nunique()} modules, "
            f"{first_ts:%Y-%m-%d %H:%M} → {last_ts:%Y-%m-%d %H:%M} UTC"
        )
