"""Models: the seasonal forecaster and the anomaly detector (scikit-learn contract)."""
