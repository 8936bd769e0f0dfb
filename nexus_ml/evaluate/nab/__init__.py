"""Numenta Anomaly Benchmark tooling: file layouts, the causal runner and NAB's scorer."""
