"""``nexus-ml alerts preview``: the operators' message for a sample decision of an action."""

from __future__ import annotations

import typer

from nexus_ml.cli.common import exits_cleanly, settings


def plain_text(html: str) -> str:
    """Telegram's HTML as plain text: tags dropped, a link shown as its address."""
    import re
    from html import unescape

    linked = re.sub(r'<a href="([^"]*)">[^<]*</a>', r"\1", html)
    return unescape(re.sub(r"<[^>]+>", "", linked))


def register(app: typer.Typer) -> None:
    alerts = typer.Typer(help="Operator alerts (Telegram texts).", no_args_is_help=True)
    app.add_typer(alerts, name="alerts")

    @alerts.command("preview")
    @exits_cleanly
    def preview(
        action: str = typer.Argument(..., help="scale_up, scale_down, restart, rollback or alert"),
        module: str = typer.Option(..., "--module", "-m", help="A module of the catalog"),
        lang: str = typer.Option("", "--lang", help="pt or en (default: NEXUS_LANGUAGE)"),
        html: bool = typer.Option(False, "--html", help="The HTML sent to Telegram"),
    ) -> None:
        """Print the message the executor would send after acting on a sample decision."""
        from nexus_ml.alerts.render import Language, render_alert
        from nexus_ml.catalog import load_catalog
        from nexus_ml.errors import InputError, NotFoundError
        from nexus_ml.execute.alert_samples import SAMPLE_ACTIONS, SAMPLE_AT, sample_alert

        cfg = settings()
        language = lang or cfg.language
        if language not in ("pt", "en"):
            raise InputError(f"--lang must be 'pt' or 'en', got {lang!r}")
        if action not in SAMPLE_ACTIONS:
            raise InputError(f"ACTION must be one of {', '.join(SAMPLE_ACTIONS)}, got {action!r}")
        catalog = load_catalog(cfg.catalog_path)
        try:
            profile = catalog.get(module)
        except NotFoundError:
            known = ", ".join(catalog.names)
            raise InputError(f"--module {module!r} is not in the catalog ({known})") from None
        chosen: Language = "en" if language == "en" else "pt"
        alert = sample_alert(profile, action, chosen, dashboard_url=cfg.dashboard_url)
        text = render_alert(alert, chosen, at=SAMPLE_AT)
        typer.echo(text if html else plain_text(text))
