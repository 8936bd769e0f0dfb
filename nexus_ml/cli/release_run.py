"""``nexus-ml release MODULE --image REF``: the release pipeline with a progress display.

The steps' progress goes to stderr; stdout carries one JSON object, the final verdict (the
stored one, with every step's time and findings). Exit codes: 0 promoted (Successful), 1
blocked (Failed: a step found a fault, or Swarm rolled the promotion back), 2 bad input or
Inconclusive (the judge could not decide, or a step could not run: its record says why).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import typer
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from nexus_ml.cli.common import err_console, exits_cleanly, settings
from nexus_ml.errors import InputError

if TYPE_CHECKING:
    from nexus_ml.release.verdict import StepRecord

_MARK = {"passed": "[green]✓[/green]", "failed": "[red]✗[/red]", "error": "[yellow]![/yellow]"}


class _StepDisplay:
    """One spinner line per step while it runs, then its mark, time and first finding."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, name: str, record: StepRecord | None) -> None:
        from rich.markup import escape

        if record is None:
            self.tasks[name] = self.progress.add_task(f"{name} …", total=1)
            return
        task = self.tasks.get(name)
        if task is None:
            return
        line = f"{_MARK.get(record.status, '·')} {name} ({record.seconds:.1f} s)"
        if record.detail:
            line += f" — {escape(record.detail[:160])}"
        self.progress.update(task, description=line, completed=1)


def _nginx(path: str | None) -> str:
    found = path or shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        raise InputError(f"--nginx: no nginx binary at {found!r}")
    return found


def register_run(group: typer.Typer) -> None:
    @group.command("run")
    @exits_cleanly
    def run_command(
        module: str = typer.Argument(..., help="Module to release (nexus-crm or crm)"),
        image: str = typer.Option(..., "--image", help="Candidate image reference"),
        release_id: str | None = typer.Option(
            None, "--id", help="Verdict id (default MODULE-time)"
        ),
        production_stack: str = typer.Option("nexus", help="Production stack name"),
        staging_stack: str = typer.Option("staging", help="Staging stack name"),
        port_offset: int = typer.Option(10000, help="Staging ports = production's + this"),
        network: str = typer.Option("host", help="Staging networking: host or overlay"),
        bind: str = typer.Option("127.0.0.1", help="Address staging tasks bind (host network)"),
        resolver: str = typer.Option("127.0.0.1", help="DNS resolver of staging's nginx"),
        proxy_listen: str = typer.Option("127.0.0.1:18080", help="Staging nginx listen address"),
        nginx: str | None = typer.Option(None, help="nginx binary (default: on PATH)"),
        dsn: str | None = typer.Option(None, help="Production database (default NEXUS_PG_DSN)"),
        migrations_dir: Path | None = typer.Option(None, help="Candidate's migrations root"),
        map_path: Path | None = typer.Option(None, "--map", help="Database map YAML"),
        check: list[str] | None = typer.Option(
            None, "--check", help="http-contract, or NAME=COMMAND (repeatable)"
        ),
        windows: int = typer.Option(20, min=3, max=10_000, help="Judge samples per version"),
        requests_per_window: int = typer.Option(20, min=1, max=100_000),
        config: Path | None = typer.Option(None, "--config", help="Judge config YAML"),
        no_promote: bool = typer.Option(False, "--no-promote", help="Stop after the judge"),
        ready_timeout: float = typer.Option(120.0, min=1, help="Seconds for staging to be ready"),
        promote_timeout: float = typer.Option(600.0, min=1, help="Seconds for Swarm to settle"),
    ) -> None:
        """Staging, migrations, checks, cross-module calls, flows, judge, then promote or block."""
        from nexus_ml.catalog import load_catalog
        from nexus_ml.deploy.options import DeployOptions
        from nexus_ml.migrate.commands import load_graph
        from nexus_ml.migrate.dbmap import load_map
        from nexus_ml.release.checks import parse_check
        from nexus_ml.release.cluster import NginxProcess, SwarmCluster
        from nexus_ml.release.config import load_judge_config
        from nexus_ml.release.database import PostgresDatabase
        from nexus_ml.release.http import UrllibHttp
        from nexus_ml.release.measure import LoadSettings
        from nexus_ml.release.pipeline import STEPS, ReleaseRequest, Seams, run_release
        from nexus_ml.release.store import check_release_id, release_store_for

        cfg = settings()
        if network not in ("host", "overlay"):
            raise InputError(f"--network must be host or overlay, got {network!r}")
        if staging_stack == production_stack:
            raise InputError(
                f"--staging-stack must differ from production's, got {staging_stack!r}"
            )
        production_dsn = dsn or (cfg.pg_dsn.get_secret_value() if cfg.pg_dsn else None)
        if not production_dsn:
            raise InputError("no database: pass --dsn or set NEXUS_PG_DSN (staging copies it)")
        catalog = load_catalog(cfg.catalog_path)
        short = catalog.get(module).short_name
        rid = check_release_id(release_id or f"{short}-{datetime.now(UTC):%Y%m%d%H%M%S}")
        net: Literal["host", "overlay"] = "host" if network == "host" else "overlay"
        staging = DeployOptions(
            registry=cfg.registry,
            stack_name=staging_stack,
            network=net,
            bind_address=bind,
            resolver=resolver,
            nginx_listen=proxy_listen,
            include_nexus_ml=False,
            update_delay_s=0,
            stop_grace_period_s=1,
        )
        request = ReleaseRequest(
            release_id=rid,
            module=module,
            image=image,
            catalog=catalog,
            production_stack=production_stack,
            staging=staging,
            port_offset=port_offset,
            checks=tuple(parse_check(c) for c in (check or ["http-contract"])),
            load=LoadSettings(windows=windows, requests_per_window=requests_per_window),
            judge_config=load_judge_config(config),
            promote=not no_promote,
            ready_timeout_s=ready_timeout,
            promote_timeout_s=promote_timeout,
        )
        database = PostgresDatabase(
            production_dsn, load_graph(migrations_dir, catalog), load_map(map_path)
        )
        nginx_binary = _nginx(nginx)
        # verdicts live where the decision service reads them (NEXUS_PG_DSN or files)
        store_dsn = cfg.pg_dsn.get_secret_value() if cfg.pg_dsn else None
        with tempfile.TemporaryDirectory(prefix="nexus-release-") as workdir:
            seams = Seams(
                cluster=SwarmCluster(),
                proxy=NginxProcess(nginx_binary, Path(workdir)),
                database=database,
                http=UrllibHttp(),
                store=release_store_for(cfg.state_dir, store_dsn),
            )
            err_console.print(
                f"release {rid}: {catalog.get(module).name} → {image} ({len(STEPS)} steps)",
                highlight=False,
            )
            columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
            with Progress(*columns, console=err_console, transient=False) as progress:
                verdict = run_release(request, seams, _StepDisplay(progress))
        err_console.print(f"[bold]{verdict.verdict}[/bold]: {verdict.reason}", highlight=False)
        typer.echo(json.dumps(verdict.model_dump(mode="json"), sort_keys=True))
        raise typer.Exit(verdict.exit_code)
