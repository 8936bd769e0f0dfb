"""``nexus-ml release``: the release pipeline, and the judge of two metric samples.

``nexus-ml release MODULE --image REF`` (the same as ``release run``) runs the pipeline
(:mod:`nexus_ml.release.pipeline`) with its progress on stderr and one JSON verdict on stdout.
``release judge`` judges two samples offline; ``release show`` prints a stored verdict.

Exit codes: 0 Successful (promoted), 1 Failed (blocked), 2 Inconclusive — or bad input (one
line on stderr and nothing on stdout), so a CI job can promote on 0, block on 1 and ask a
human on 2.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from nexus_ml.cli.common import console, exits_cleanly, settings
from nexus_ml.cli.release_run import register_run


class _RunByDefault(typer.core.TyperGroup):
    """``release crm --image X`` is ``release run crm --image X``: a module is no subcommand."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def register(app: typer.Typer) -> None:
    group = typer.Typer(
        cls=_RunByDefault,
        help=(
            "Release a module: `nexus-ml release MODULE --image REF` runs the staging "
            "pipeline and promotes or blocks; `judge` judges two samples offline."
        ),
        no_args_is_help=True,
    )
    app.add_typer(group, name="release")
    register_run(group)

    @group.command("judge")
    @exits_cleanly
    def judge_command(
        baseline: Path = typer.Option(..., "--baseline", "-b", help="Baseline samples CSV"),
        candidate: Path = typer.Option(..., "--candidate", "-c", help="Candidate samples CSV"),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
        config: Path | None = typer.Option(None, "--config", help="Judge config YAML"),
        release_id: str | None = typer.Option(
            None, "--id", help="Store the verdict under this id (served at /v1/releases/ID)"
        ),
        update_state: str | None = typer.Option(
            None, help="Swarm UpdateStatus.State of the candidate's service (rollback_* fails)"
        ),
        candidate_version: str | None = typer.Option(None, help="Version that should run"),
        running_version: str | None = typer.Option(None, help="Version the service runs"),
        module: str | None = typer.Option(
            None, help="The module released: a Failed verdict opens its crisis incident"
        ),
    ) -> None:
        """Judge two metric samples (CSV: timestamp,metric,value) offline."""
        from pydantic import ValidationError

        from nexus_ml.errors import InputError
        from nexus_ml.release.config import load_judge_config
        from nexus_ml.release.judge import judge
        from nexus_ml.release.samples import read_samples_csv
        from nexus_ml.release.store import check_release_id, release_store_for
        from nexus_ml.release.verdict import UPDATE_STATES, ReleaseStatus

        judge_config = load_judge_config(config)
        if release_id is not None:
            check_release_id(release_id)
        if update_state is not None and update_state not in UPDATE_STATES:
            raise InputError(
                f"--update-state must be one of {', '.join(sorted(UPDATE_STATES))}, "
                f"got {update_state!r}"
            )
        status = None
        if update_state or candidate_version or running_version:
            try:
                status = ReleaseStatus(
                    update_state=update_state,
                    candidate_version=candidate_version,
                    running_version=running_version,
                )
            except ValidationError as exc:
                first = exc.errors()[0]
                raise InputError(f"--{first['loc'][0]}: {first['msg']}".replace("_", "-")) from None
        verdict = judge(
            read_samples_csv(baseline),
            read_samples_csv(candidate),
            judge_config,
            release_status=status,
            release_id=release_id,
            judged_at=datetime.now(UTC),
        )
        if release_id is not None:
            cfg = settings()
            dsn = cfg.pg_dsn.get_secret_value() if cfg.pg_dsn else None
            release_store_for(cfg.state_dir, dsn).save(verdict)
        if module is not None and verdict.verdict == "Failed":
            from nexus_ml.crisis.alert_sink import alert_incident_sink_for

            incident = alert_incident_sink_for(settings()).release_failed(
                module, release_id or "(unnamed)", verdict.reason
            )
            if incident is not None and not as_json:
                console.print(f"incident {incident} opened for {module}", highlight=False)
        if as_json:
            typer.echo(json.dumps(verdict.model_dump(mode="json"), sort_keys=True))
        else:
            table = Table(title=f"release verdict: {verdict.verdict} (score {verdict.score:g})")
            for column in ("metric", "status", "baseline", "candidate", "effect", "p", "reason"):
                table.add_column(column, overflow="fold")
            for m in verdict.metrics:
                effect = (
                    _fmt(m.effect, "+.1%")
                    if m.kind == "continuous"
                    else _fmt(None if m.effect is None else m.effect * 100, "+.2f") + " pt"
                )
                table.add_row(
                    m.name + (" (critical)" if m.critical else ""),
                    m.status,
                    _fmt(m.baseline, ".4g"),
                    _fmt(m.candidate, ".4g"),
                    effect,
                    _fmt(m.p_value, ".2g"),
                    m.reason,
                )
            console.print(table)
            console.print(f"[bold]{verdict.verdict}[/bold]: {verdict.reason}", highlight=False)
        raise typer.Exit(verdict.exit_code)

    @group.command("show")
    @exits_cleanly
    def show_command(release_id: str = typer.Argument(..., help="Release id")) -> None:
        """Print a stored verdict as JSON (exit code as for judge)."""
        from nexus_ml.release.store import release_store_for

        cfg = settings()
        dsn = cfg.pg_dsn.get_secret_value() if cfg.pg_dsn else None
        verdict = release_store_for(cfg.state_dir, dsn).get(release_id)
        typer.echo(json.dumps(verdict.model_dump(mode="json"), sort_keys=True))
        raise typer.Exit(verdict.exit_code)
