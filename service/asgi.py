"""``uvicorn service.asgi:app``: the app built from the environment (multi-worker entry).

Log lines follow ``NEXUS_LOG_FORMAT`` / ``NEXUS_LOG_LEVEL`` (uvicorn's own loggers included),
whichever way uvicorn was started.
"""

from nexus_ml.logs import configure_logging
from service.app import create_app
from service.core.config import ServiceSettings

settings = ServiceSettings()
configure_logging(settings.log_format, settings.log_level, secrets=settings.secret_values())
app = create_app(settings)
