"""``nexus-ml execute``: apply the decision service's decisions to the cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from nexus_ml.cli.common import console, exits_cleanly, settings

if TYPE_CHECKING:
    from nexus_ml.execute.loop import TickReport


def register(app: typer.Typer) -> None:
    @app.command("execute")
    @exits_cleanly
    def execute(
        backend: str = typer.Option("swarm", help="swarm (DOCKER_HOST) or memory (embedded)"),
        interval: float = typer.Option(60.0, min=0.5, help="Seconds between passes"),
        once: bool = typer.Option(False, "--once", help="One pass, then exit"),
        preview: bool = typer.Option(False, "--preview", help="Only log what would be done"),
        prefix: str = typer.Option("", help="Swarm service name prefix"),
        action_timeout: float = typer.Option(60.0, min=1, help="Convergence deadline (s)"),
        manual_hold: float = typer.Option(1800.0, min=0, help="Leave hand-changed services (s)"),
    ) -> None:
        """Fetch decisions, check guardrails, act, audit and alert (service: NEXUS_SERVICE_URL)."""
        import os
        import signal
        import threading

        from nexus_ml.catalog import load_catalog
        from nexus_ml.errors import IngestError, NexusError
        from nexus_ml.execute.factory import ExecutorOptions, build_executor, cluster_for

        cfg = settings()
        catalog = load_catalog(cfg.catalog_path)
        cluster = cluster_for(
            backend,
            catalog,
            docker_host=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"),
            timeout_s=action_timeout,
            name_prefix=prefix,
        )
        options = ExecutorOptions(
            interval_s=interval,
            action_timeout_s=action_timeout,
            preview=preview,
            manual_change_hold_s=manual_hold,
        )
        executor = build_executor(cfg, cluster, options, catalog=catalog)
        mode = "preview" if preview else "acting"
        console.print(
            f"executor {executor.config.executor_id}: {backend}, {mode}, every {interval:g} s"
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        reports: list[TickReport] = []
        shown = [len(executor.rollback_runs)]

        def show(report: TickReport) -> None:
            reports[:] = [report]
            _print_report(report)
            # a release rollback's stages against the seed's budget
            for run in executor.rollback_runs[shown[0] :]:
                console.print(run.table(), highlight=False)
            shown[0] = len(executor.rollback_runs)

        # Executor.run is the one loop: its guard keeps an unexpected error from stopping it,
        # and it releases the leader lock on the way out.
        try:
            executor.run(stop, max_ticks=1 if once else None, on_tick=show)
        except KeyboardInterrupt:
            return
        if once:
            if not reports:
                raise NexusError("the executor's pass failed: see the log for the error")
            if reports[0].leader and not reports[0].fetched:
                # a one-shot run that could not read decisions (refused token, service
                # down) did nothing: say so in the exit code
                raise IngestError("decision service unavailable or refused the token: nothing done")


def _print_report(report: TickReport) -> None:
    if not report.leader:
        console.print("[dim]standby: another executor holds the leader lock[/dim]")
        return
    if not report.fetched:
        console.print("[red]decision service unavailable: holding[/red]")
        return
    for o in report.outcomes:
        style = "green" if o.acted else ("yellow" if o.reason not in ("hold", "alert") else "dim")
        verb = "applied" if o.acted else "skipped"
        console.print(
            f"[{style}]{verb:8}[/{style}] {o.module:24} {o.action.value:10} "
            f"{o.reason:16} {o.detail}",
            highlight=False,
        )
