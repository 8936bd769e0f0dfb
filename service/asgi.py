"""``uvicorn service.asgi:app``: the app built from the environment (multi-worker entry)."""

from service.app import create_app

app = create_app()
