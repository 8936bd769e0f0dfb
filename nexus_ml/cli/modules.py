"""``nexus-ml modules``: the module catalog as a table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from nexus_ml.catalog import load_catalog
from nexus_ml.cli.common import console, exits_cleanly, settings


def register(app: typer.Typer) -> None:
    @app.command("modules")
    @exits_cleanly
    def modules(
        catalog: Path | None = typer.Option(None, help="Catalog YAML (default: bundled)"),
    ) -> None:
        """Show the module catalog: profiles, limits, triggers and dependencies."""
        cat = load_catalog(catalog or settings().catalog_path)
        table = Table(title="Nexus ERP modules")
        table.add_column("module", no_wrap=True, style="bold")
        for col in (
            "name",
            "clients",
            "CPU",
            "memory",
            "replicas",
            "port",
            "scale trigger",
            "depends on",
        ):
            table.add_column(col)
        for m in cat:
            t = m.scale_trigger
            unit = "%" if t.metric == "cpu_usage" else ""
            threshold = f"{t.threshold * 100:.0f}{unit}" if unit else f"{t.threshold:g}"
            table.add_row(
                m.name,
                m.display_name,
                f"{m.client_share:.0%}",
                f"{m.cpu_limit:g}",
                f"{m.memory_limit_gb:g} GB",
                f"{m.min_replicas}–{m.max_replicas}",
                str(m.port),
                f"{t.metric} > {threshold} for {t.duration_min} min",
                ", ".join(d.removeprefix("nexus-") for d in m.depends_on) or "—",
            )
        console.print(table)
