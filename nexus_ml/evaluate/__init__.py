"""Evaluation above the models and the decision core: replay of policies on demand traces,
forecast protocol v1 (rolling-origin backtest) and NAB for anomaly detectors."""
