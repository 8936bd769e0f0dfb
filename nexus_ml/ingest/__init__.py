"""Ingestion: metric sources (Prometheus, files/simulator) returning metric frames."""
