"""``nexus-ml dashboard grafana``: a Grafana dashboard JSON generated from the module catalog."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import typer

from nexus_ml.cli.common import console, exits_cleanly, settings
from nexus_ml.errors import InputError


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Dashboards outside the service (Grafana).", no_args_is_help=True)
    app.add_typer(group, name="dashboard")

    @group.command("grafana")
    @exits_cleanly
    def grafana(
        out: Path = typer.Option(..., "--out", help="Where to write the dashboard JSON"),
        catalog: Path | None = typer.Option(None, help="Catalog YAML (default: bundled)"),
        dashboard_url: str | None = typer.Option(
            None, help="The live page the panels link to (default: NEXUS_DASHBOARD_URL)"
        ),
    ) -> None:
        """Write a Grafana dashboard: per module demand, forecast band, capacity, replicas,
        anomaly score; decisions as annotations; links back to the service's /dashboard."""
        from nexus_ml.catalog import load_catalog
        from nexus_ml.dashboard.grafana import grafana_json

        cfg = settings()
        url = dashboard_url or cfg.dashboard_url
        if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise InputError(f"--dashboard-url must be an http(s) URL, got {url!r}")
        if not out.parent.is_dir():
            raise InputError(f"--out: folder {str(out.parent)!r} does not exist")
        document = grafana_json(load_catalog(catalog or cfg.catalog_path), url)
        out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        console.print(f"wrote {out} ({len(document['panels'])} panels)")
