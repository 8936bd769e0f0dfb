"""Execution: the executor loop, cluster backends, guardrails, leader lock and audit."""
