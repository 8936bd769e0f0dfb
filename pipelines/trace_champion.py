"""A champion for one demand trace, trained by the real training pipeline.

The replay benchmark's ``nexus`` policy decides through the decision service's engine, which
needs a champion; this trains it on the trace's history exactly as ``nexus-ml train`` trains a
module (forecaster with backtest and gate, scaling risk model), into a throwaway local store.
No anomaly detector: a trace carries demand alone, and the detector watches health fields.
"""

from __future__ import annotations

import math
import tempfile
from datetime import timedelta
from pathlib import Path

import pandas as pd

from nexus_ml.catalog import ModuleProfile
from nexus_ml.domain.frame import FRAME_COLUMNS
from nexus_ml.ingest.frame_source import FrameSource
from nexus_ml.models.registry.local_store import LocalModelStore
from nexus_ml.models.registry.store import ModelBundle
from pipelines.train import TrainConfig, train

MINUTE = timedelta(minutes=1)


def train_trace_champion(
    demand: pd.Series, profile: ModuleProfile, store_dir: Path | None = None
) -> ModelBundle:
    """Train ``profile``'s champion on ``demand`` (1-minute steps, DatetimeIndex, UTC).

    Returns the version just trained, whatever the gate said (a replay has no older champion).
    """
    frame = pd.DataFrame({c: math.nan for c in FRAME_COLUMNS[2:]}, index=range(len(demand)))
    frame.insert(0, "timestamp", pd.DatetimeIndex(demand.index).tz_convert("UTC"))
    frame.insert(0, "module", profile.name)
    frame["requests_per_min"] = demand.to_numpy(dtype=float)
    end = pd.Timestamp(demand.index[-1]).to_pydatetime() + MINUTE
    config = TrainConfig(
        modules=(profile.name,),
        days=len(demand) / 1440,
        forecast_fields=("requests_per_min",),
        detect=False,
        n_jobs=1,
        lead_times={profile.name: max(1, math.ceil(profile.startup_lead_time_s / 60))},
    )
    with tempfile.TemporaryDirectory(prefix="nexus-trace-") as tmp:
        store = LocalModelStore(store_dir or Path(tmp))
        report = train(FrameSource(frame, name="trace history"), store, config, end=end)
        return store.load_version(profile.name, report.outcomes[0].version)
