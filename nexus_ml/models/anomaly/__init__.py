"""The causal anomaly detector and its building blocks (views, calibration, parameters)."""
