"""``nexus-ml serve``: the decision service under uvicorn."""

from __future__ import annotations

import logging
import os

import typer

from nexus_ml.cli.common import console, exits_cleanly


def register(app: typer.Typer) -> None:
    @app.command("serve")
    @exits_cleanly
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to bind"),
        port: int = typer.Option(8000, min=1, max=65535, help="Port to bind"),
        workers: int = typer.Option(1, min=1, max=64, help="uvicorn worker processes"),
        poll_models: bool = typer.Option(True, help="Reload champions when their alias moves"),
    ) -> None:
        """Serve decisions over HTTP (token from NEXUS_API_TOKEN; see /docs)."""
        import uvicorn
        from pydantic import ValidationError

        from nexus_ml.errors import ConfigError
        from nexus_ml.logs import active_format, uvicorn_log_config
        from service.app import create_app
        from service.core.config import ServiceSettings

        try:
            settings = ServiceSettings()
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            raise ConfigError(f"service settings: {field}: {err['msg']}", field=field) from exc
        console.print(
            f"decision service on http://{host}:{port} "
            f"(metrics: {'Prometheus' if settings.prometheus_url else 'embedded'}, "
            f"models: {settings.mlflow_tracking_uri or settings.models_dir})"
        )
        kind = active_format()  # --log-format, else NEXUS_LOG_FORMAT
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        log_config = uvicorn_log_config(kind, level)
        if workers > 1:
            # each worker builds its own app from the environment: hand it the log format too
            os.environ["NEXUS_LOG_FORMAT"], os.environ["NEXUS_LOG_LEVEL"] = kind, level
            uvicorn.run(
                "service.asgi:app", host=host, port=port, workers=workers, log_config=log_config
            )
            return
        uvicorn.run(
            create_app(settings, poll_models=poll_models),
            host=host,
            port=port,
            log_config=log_config,
        )
