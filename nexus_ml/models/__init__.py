"""Models (scikit-learn contract), by concept.

* :mod:`~nexus_ml.models.forecast` — the seasonal demand forecaster (the champion), the lead-time
  quantiles and the scaling risk model;
* :mod:`~nexus_ml.models.anomaly` — the causal anomaly detector and its building blocks;
* :mod:`~nexus_ml.models.calibration` — online recalibration of decision confidences;
* :mod:`~nexus_ml.models.registry` — where trained bundles live (a folder or MLflow);
* :mod:`~nexus_ml.models.training` — fan-out training, its backtest and the promotion gate.

Evaluation (replay of policies, forecast protocol v1, NAB) sits above, in :mod:`nexus_ml.evaluate`.
"""
