"""The decision service (FastAPI)."""
