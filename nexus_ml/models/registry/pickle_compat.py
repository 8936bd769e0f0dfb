"""Loading bundles pickled before a module was renamed.

A joblib bundle names the module of every class it holds. When the package layout changes
(``nexus_ml.models.forecaster`` became ``nexus_ml.models.forecast.seasonal``), champions
already in a registry still name the old paths; :func:`load_bundle_file` resolves them through
:data:`RENAMED` so that an upgrade does not orphan the models in production.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import joblib

#: Old module path → the module that now holds the same classes.
RENAMED: dict[str, str] = {
    "nexus_ml.models.forecaster": "nexus_ml.models.forecast.seasonal",
    "nexus_ml.models.forecast_design": "nexus_ml.models.forecast.design",
    "nexus_ml.models.forecast_state": "nexus_ml.models.forecast.state",
    "nexus_ml.models.growable": "nexus_ml.models.forecast.growable",
    "nexus_ml.models.lag_regression": "nexus_ml.models.forecast.lag_regression",
    "nexus_ml.models.lead_time": "nexus_ml.models.forecast.lead_time",
    "nexus_ml.models.lead_time_risk": "nexus_ml.models.forecast.lead_time_risk",
    "nexus_ml.models.confidence": "nexus_ml.models.calibration",
    "nexus_ml.models.anomaly_calibration": "nexus_ml.models.anomaly.calibration",
    "nexus_ml.models.anomaly_features": "nexus_ml.models.anomaly.features",
    "nexus_ml.models.anomaly_params": "nexus_ml.models.anomaly.params",
    "nexus_ml.models.anomaly_robust": "nexus_ml.models.anomaly.robust",
    "nexus_ml.models.store": "nexus_ml.models.registry.store",
}
#: A module that became a package → the module inside it that holds its classes now.
BECAME_PACKAGE: dict[str, str] = {
    "nexus_ml.models.anomaly": "nexus_ml.models.anomaly.detector",
}


@contextmanager
def _old_module_names() -> Iterator[None]:
    added: list[str] = []
    lent: list[tuple[Any, str]] = []
    for old, new in RENAMED.items():
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)
            added.append(old)
    for package_name, module_name in BECAME_PACKAGE.items():
        package = importlib.import_module(package_name)
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if not name.startswith("__") and not hasattr(package, name):
                setattr(package, name, value)
                lent.append((package, name))
    try:
        yield
    finally:
        for old in added:
            sys.modules.pop(old, None)
        for package, name in lent:
            delattr(package, name)


def load_bundle_file(path: Path) -> Any:
    """``joblib.load(path)``, resolving module paths of earlier releases (see :data:`RENAMED`)."""
    try:
        return joblib.load(path)
    except (ModuleNotFoundError, AttributeError):
        with _old_module_names():
            return joblib.load(path)
