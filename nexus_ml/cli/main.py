"""The ``nexus-ml`` entry point: every job is a verb here; each lives in its own module."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="nexus-ml",
    help="Predictive operations for the Nexus ERP on Docker Swarm.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging"),
    log_format: str | None = typer.Option(
        None,
        "--log-format",
        help="Log lines as 'text' (key=value) or 'json' (default: NEXUS_LOG_FORMAT, else text)",
        show_default=False,
    ),
) -> None:
    """Predictive operations for the Nexus ERP on Docker Swarm."""
    from nexus_ml.cli.common import configure_logging

    configure_logging(verbose, log_format)


# Each module exposes ``register(app)``; heavy imports stay inside the commands.
_VERB_MODULES = (
    "modules",
    "simulate",
    "demo",
    "metrics",
    "prometheus",
    "train",
    "retrain",
    "forecast",
    "anomaly",
    "serve",
    "execute",
    "audit",
    "alerts",
    "migrate",
    "replay",
    "incident",
    "release",
    "stack",
    "dashboard",
)

for _name in _VERB_MODULES:
    try:
        _module = importlib.import_module(f"nexus_ml.cli.{_name}")
    except ModuleNotFoundError as _exc:  # a verb not built yet
        if _exc.name != f"nexus_ml.cli.{_name}":
            raise
        continue
    _module.register(app)


def main() -> None:
    app()
