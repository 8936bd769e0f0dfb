"""Training: fan-out over modules, the rolling-origin backtest and the promotion gate."""
