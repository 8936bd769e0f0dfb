"""Dashboards of nexus-ml outside the service: Grafana JSON generated from the catalog."""
