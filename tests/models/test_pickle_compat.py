"""Bundles pickled under the module paths of earlier releases still load."""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from nexus_ml.models.anomaly.detector import AnomalyDetector
from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk
from nexus_ml.models.registry.pickle_compat import RENAMED, load_bundle_file


def _as_if_pickled_before_the_move(path: Path, renames: dict[bytes, bytes]) -> None:
    # protocol 0 spells each class as "c<module>\n<name>\n", so the old paths can be written in
    raw = path.read_bytes()
    for new, old in renames.items():
        assert new in raw
        raw = raw.replace(new, old)
    path.write_bytes(raw)


def test_a_bundle_naming_old_module_paths_loads(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = 100 + 10 * rng.standard_normal(300)
    risk = LeadTimeRisk(lead_time=1, season=60).fit(y)
    frame = pd.DataFrame({"requests_per_min": y, "cpu_usage": y / 200})
    detector = AnomalyDetector().fit(frame)
    path = tmp_path / "bundle.joblib"
    joblib.dump({"scaler": risk, "detector": detector}, path, protocol=0)
    _as_if_pickled_before_the_move(
        path,
        {
            b"cnexus_ml.models.forecast.lead_time_risk\n": b"cnexus_ml.models.lead_time_risk\n",
            b"cnexus_ml.models.forecast.lead_time\n": b"cnexus_ml.models.lead_time\n",
            b"cnexus_ml.models.anomaly.detector\n": b"cnexus_ml.models.anomaly\n",
        },
    )
    with pytest.raises((ModuleNotFoundError, AttributeError)):
        joblib.load(path)  # what an upgrade would hit without the renames
    payload = load_bundle_file(path)
    assert isinstance(payload["scaler"], LeadTimeRisk)
    assert isinstance(payload["detector"], AnomalyDetector)
    thresholds = np.array([100.0, 130.0])
    np.testing.assert_allclose(
        payload["scaler"].window_risk(thresholds), risk.window_risk(thresholds)
    )
    # the old names are not left behind for the rest of the process
    assert not any(old in sys.modules for old in RENAMED)
    import nexus_ml.models.anomaly as anomaly

    assert not hasattr(anomaly, "AnomalyDetector")
