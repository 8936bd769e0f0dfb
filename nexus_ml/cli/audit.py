"""``nexus-ml audit``: the executor's audit trail as a table."""

from __future__ import annotations

from datetime import timedelta

import typer
from rich.table import Table

from nexus_ml.cli.common import console, exits_cleanly, settings
from nexus_ml.durations import parse_duration
from nexus_ml.errors import InputError


def parse_since(text: str) -> timedelta:
    """``30m``, ``1h``, ``2d``, ``90s``: :func:`nexus_ml.durations.parse_duration`."""
    try:
        return parse_duration(text)
    except InputError:
        raise InputError(
            f"--since must look like 30m, 1h or 2d, got {text!r} (at most 100 years)"
        ) from None


def register(app: typer.Typer) -> None:
    @app.command("audit")
    @exits_cleanly
    def audit(
        since: str = typer.Option("1h", help="How far back: 30m, 1h, 2d"),
        module: str | None = typer.Option(None, help="Only this module"),
        event: str | None = typer.Option(None, help="Only this event (action_taken, ...)"),
        limit: int = typer.Option(200, min=1, help="Newest N entries"),
    ) -> None:
        """Show decisions received and actions taken or skipped, with their reasons."""
        from nexus_ml.execute.audit import utcnow
        from nexus_ml.execute.factory import audit_for

        cfg = settings()
        entries = audit_for(cfg).since(utcnow() - parse_since(since))
        entries = [
            e
            for e in entries
            if (module is None or module in (e.module, f"nexus-{module}"))
            and (event is None or e.event == event)
        ][-limit:]
        table = Table(title=f"audit trail, last {since} ({len(entries)} entries)")
        for col in ("time (UTC)", "event", "module", "action", "reason", "detail", "executor"):
            table.add_column(col, overflow="fold")
        styles = {"action_taken": "green", "action_failed": "red", "fetch_failed": "red",
                  "decision_rejected": "red", "action_skipped": "yellow"}  # fmt: skip
        for e in entries:
            style = styles.get(e.event, "")
            table.add_row(
                e.at.strftime("%Y-%m-%d %H:%M:%S"), e.event, e.module, e.action, e.reason,
                e.detail, e.executor, style=style,
            )  # fmt: skip
        console.print(table)
