"""``nexus-ml incident``: collect crisis data, write incident reports, enforce retention."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.table import Table

from nexus_ml.cli.common import console, exits_cleanly, settings
from nexus_ml.errors import InputError


def _parse_time(text: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option} must be an ISO 8601 time, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _at(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        help="Crisis data: collect an incident, report it, keep it for its retention period.",
        no_args_is_help=True,
    )
    app.add_typer(group, name="incident")

    @group.command("collect")
    @exits_cleanly
    def collect(
        module: str = typer.Option(..., "--module", "-m", help="Module (crm or nexus-crm)"),
        error_type: str = typer.Option(..., "--type", "-t", help="ErrorType, e.g. MEMORY_LEAK"),
        since: str = typer.Option("2h", help="The incident started this long ago (30m, 2h, 1d)"),
        start: str | None = typer.Option(None, help="Incident start, ISO 8601 (overrides --since)"),
        end: str | None = typer.Option(None, help="Incident end, ISO 8601 (default: still open)"),
        source: Path | None = typer.Option(
            None, help="Metric frame file (.parquet/.csv) instead of Prometheus"
        ),
        plans: Path | None = typer.Option(None, help="YAML overriding the collection plans"),
    ) -> None:
        """Collect the metric window and evidence of an incident into the crisis store."""
        from nexus_ml.catalog import load_catalog
        from nexus_ml.crisis.collect import collect_incident
        from nexus_ml.crisis.collection import load_collection_plans, parse_error_type
        from nexus_ml.crisis.store import IncidentStore
        from nexus_ml.durations import parse_duration
        from nexus_ml.execute.factory import audit_for, redactor_for

        cfg = settings()
        kind = parse_error_type(error_type)
        plan = load_collection_plans(plans).for_type(kind)
        catalog = load_catalog(cfg.catalog_path)
        now = datetime.now(UTC)
        started = _parse_time(start, "--start") if start else now - parse_duration(since)
        ended = _parse_time(end, "--end") if end else None
        from nexus_ml.ingest.factory import metric_source as choose_metric_source

        metric_source = choose_metric_source(
            cfg,
            path=source,
            simulate=False,
            label="--source",
            missing="pass --source FILE or set NEXUS_PROMETHEUS_URL",
        )
        name = str(source) if source is not None else str(cfg.prometheus_url)
        with console.status(f"collecting {kind.value} data for {module}"):
            try:
                incident = collect_incident(
                    module=module,
                    error_type=kind,
                    started_at=started,
                    ended_at=ended,
                    plan=plan,
                    source=metric_source,
                    catalog=catalog,
                    now=now,
                    audit=audit_for(cfg),
                    redactor=redactor_for(cfg),
                    source_name=name,
                )
            finally:
                close = getattr(metric_source, "close", None)
                if close is not None:  # PrometheusSource holds an HTTP session
                    close()
        manifest = IncidentStore(cfg.state_dir / "incidents").save(incident)
        console.print(
            f"[green]collected[/green] {manifest.id}: {len(incident.frame)} rows of "
            f"{', '.join(manifest.modules)} from {_at(manifest.window_start)} to "
            f"{_at(manifest.window_end)}, kept {manifest.retention_days} days"
            + (" after it is closed" if manifest.is_open else ""),
            highlight=False,
        )

    @group.command("report")
    @exits_cleanly
    def report(
        incident_id: str = typer.Argument(..., help="Incident id (see `nexus-ml incident list`)"),
        lang: str | None = typer.Option(
            None, "--lang", help="Language: pt or en (default: settings, NEXUS_LANGUAGE, pt)"
        ),
        out: Path | None = typer.Option(
            None, help="Markdown file (default: report.<lang>.md in the incident's folder)"
        ),
    ) -> None:
        """Write the incident report as Markdown, with a PNG of the key metrics beside it."""
        from nexus_ml.crisis.cause import Language
        from nexus_ml.crisis.report import build_report, plot_key_metrics, render_markdown
        from nexus_ml.crisis.store import IncidentStore

        lang = lang or settings().language
        if lang not in ("pt", "en"):
            raise InputError(f"--lang must be pt or en, got {lang!r}")
        language: Language = "pt" if lang == "pt" else "en"
        store = IncidentStore(settings().state_dir / "incidents")
        incident = store.load(incident_id)
        path = out or store.folder(incident_id) / f"report.{language}.md"
        if path.suffix.lower() != ".md":
            raise InputError(f"--out must end in .md, got {path.name!r}")
        plot = plot_key_metrics(incident, path.with_suffix(".png"), language=language)
        built = build_report(incident, language)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_markdown(built, plot_path=plot.name), encoding="utf-8")
        console.print(f"[green]report[/green] {path} (plot {plot})", highlight=False)
        console.print(built.crisis.probable_cause, highlight=False)

    @group.command("list")
    @exits_cleanly
    def list_incidents() -> None:
        """List stored incidents with their retention."""
        from nexus_ml.crisis.store import IncidentStore

        manifests = IncidentStore(settings().state_dir / "incidents").manifests()
        table = Table(title=f"{len(manifests)} incident(s)")
        for col in ("id", "module", "type", "start (UTC)", "end (UTC)", "kept", "expires"):
            table.add_column(col, overflow="fold")
        for m in manifests:
            table.add_row(
                m.id, m.module, m.error_type.value, _at(m.started_at),
                _at(m.ended_at) if m.ended_at else "open", f"{m.retention_days} d",
                _at(m.expires_at) if m.expires_at else "never while open",
            )  # fmt: skip
        console.print(table)
        from nexus_ml.crisis.record_stores import record_store_for

        auto = record_store_for(settings()).incidents()
        if auto:
            opened = Table(title=f"{len(auto)} incident(s) opened automatically")
            for col in ("id", "module", "type", "severity", "source", "opened (UTC)", "closed"):
                opened.add_column(col, overflow="fold")
            for i in auto:
                opened.add_row(
                    i.id, i.module, i.error_type, i.severity, i.source, _at(i.opened_at),
                    _at(i.closed_at) if i.closed_at else "open",
                )  # fmt: skip
            console.print(opened)

    @group.command("close")
    @exits_cleanly
    def close(
        incident_id: str = typer.Argument(..., help="Incident id"),
        at: str | None = typer.Option(None, help="End time, ISO 8601 (default: now)"),
    ) -> None:
        """Mark an open incident as ended; its retention period starts then."""
        from nexus_ml.crisis.store import IncidentStore

        ended = _parse_time(at, "--at") if at else datetime.now(UTC)
        store = IncidentStore(settings().state_dir / "incidents")
        manifest = store.close(incident_id, ended)
        console.print(f"closed {manifest.id}; expires {_at(manifest.expires_at)}", highlight=False)

    @group.command("purge")
    @exits_cleanly
    def purge(
        dry_run: bool = typer.Option(False, "--dry-run", help="Only show what would be deleted"),
        rules: Path | None = typer.Option(
            None, help="YAML overriding the crisis rules (default: NEXUS_CRISIS_RULES_PATH)"
        ),
    ) -> None:
        """Enforce retention (a scheduled job): each data category of a closed incident is
        deleted after its own retention; an open incident keeps everything."""
        from nexus_ml.crisis.record_stores import record_store_for
        from nexus_ml.crisis.rules import load_rules
        from nexus_ml.crisis.store import IncidentStore

        cfg = settings()
        in_force = load_rules(rules or cfg.crisis_rules_path)
        store = IncidentStore(cfg.state_dir / "incidents")
        now = datetime.now(UTC)
        ids = [m.id for m in store.expired(now)] if dry_run else store.purge(now)
        verb = "would delete" if dry_run else "deleted"
        console.print(f"{verb} {len(ids)} incident(s)" + (": " + ", ".join(ids) if ids else ""))
        if dry_run:
            return
        deleted = record_store_for(cfg).purge(
            now, {c: r.retention_days for c, r in in_force.categories.items()}
        )
        table = Table(title="rows deleted per data category")
        table.add_column("category")
        table.add_column("retention", justify="right")
        table.add_column("deleted", justify="right")
        for category, rule in in_force.categories.items():
            table.add_row(category, f"{rule.retention_days} d", str(deleted.get(category, 0)))
        console.print(table)

    @group.command("rules")
    @exits_cleanly
    def show_rules(
        rules: Path | None = typer.Option(
            None, help="YAML overriding the crisis rules (default: NEXUS_CRISIS_RULES_PATH)"
        ),
    ) -> None:
        """The crisis-data rules in force: per error type what is collected and ignored, each
        category's retention, the storage limit and the severity."""
        from nexus_ml.crisis.rules import load_rules

        in_force = load_rules(rules or settings().crisis_rules_path)
        table = Table(title="crisis-data rules in force")
        for col in ("error type", "severity", "collected (retention, sampling)", "ignored",
                    "storage limit"):  # fmt: skip
            table.add_column(col, overflow="fold")
        for name, rule in in_force.error_types.items():
            collected = "\n".join(
                f"{c} ({in_force.categories[c].retention_days} d, "
                f"{in_force.categories[c].sampling.value})"
                for c in rule.collect
            )
            table.add_row(
                name, rule.severity.value, collected, "\n".join(rule.ignore) or "—",
                f"{rule.storage_limit_mb:g} MB",
            )  # fmt: skip
        console.print(table)
