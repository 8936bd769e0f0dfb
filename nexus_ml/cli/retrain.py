"""``nexus-ml retrain``: the training job on a schedule, never two runs at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nexus_ml.cli.common import err_console, exits_cleanly, settings
from nexus_ml.cli.train import build_job, print_report
from nexus_ml.cli.train_options import TrainOptions, with_train_options
from nexus_ml.errors import InputError, LockError


def register(app: typer.Typer) -> None:
    @app.command("retrain")
    @exits_cleanly
    @with_train_options
    def retrain_cmd(
        opts: TrainOptions,
        every: Annotated[str | None, typer.Option(help="Interval: 30m, 6h, 1d")] = None,
        cron: Annotated[
            str | None, typer.Option(help='Cron expression in UTC: "0 3 * * *"')
        ] = None,
        once: Annotated[
            bool, typer.Option(help="Run once and exit (exit code 7 if locked)")
        ] = False,
        lock: Annotated[
            Path | None, typer.Option(help="Lock file; default <state>/retrain.lock")
        ] = None,
        pg_lock: Annotated[
            bool, typer.Option(help="Use a PostgreSQL advisory lock (NEXUS_PG_DSN) instead")
        ] = False,
    ) -> None:
        """Retrain every interval or on a cron schedule; a run finding the lock taken skips."""
        from pipelines.locks import FileLock, PgAdvisoryLock, RunLock
        from pipelines.retrain import Cron, Every, Schedule, run_schedule

        if (every is None) == (cron is None) and not once:
            raise InputError("give exactly one of --every or --cron (or --once)")
        schedule: Schedule = Cron(cron) if cron else Every.parse(every or "1d")
        cfg = settings()
        run_lock: RunLock
        if pg_lock:
            if cfg.pg_dsn is None:
                raise InputError("--pg-lock needs NEXUS_PG_DSN")
            run_lock = PgAdvisoryLock(cfg.pg_dsn.get_secret_value())
        else:
            run_lock = FileLock(lock or cfg.state_dir / "retrain.lock")
        job, _ = build_job(opts)
        results = run_schedule(job, run_lock, schedule, once=once)
        last = results[-1]
        if last.report is not None:
            print_report(last.report)
        else:
            err_console.print(last.message, highlight=False)
        if once and last.status == "skipped":
            raise typer.Exit(LockError.exit_code)
        if once and last.error is not None:
            raise last.error
