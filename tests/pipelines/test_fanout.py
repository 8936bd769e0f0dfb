"""The same fan-out code on joblib's loky processes and on a local Dask cluster."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import joblib
import pandas as pd
import pytest

from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.ingest.frame_source import FrameSource
from nexus_ml.models.registry.local_store import LocalModelStore
from pipelines.train import train
from tests.pipelines.conftest import (
    MODULES,
    STEP,
    detector_factory,
    forecaster_factory,
    small_config,
)


def _forecasts(store: LocalModelStore) -> pd.DataFrame:
    frames = []
    for module in MODULES[:1]:
        bundle = store.load_champion(module)
        assert bundle is not None
        for name, model in sorted(bundle.forecasters.items()):
            frames.append(model.predict(24, levels=(80,)).assign(module=module, field=name))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.slow
def test_dask_backend_gives_the_same_models_as_loky(
    source: FrameSource, sim_end: datetime, tmp_path: Path
) -> None:
    from dask.distributed import Client, LocalCluster

    loky = LocalModelStore(tmp_path / "loky")
    report_loky = train(
        source,
        loky,
        small_config(MODULES[:1], n_jobs=2, backend="loky"),
        end=sim_end,
        forecaster_factory=forecaster_factory(),
        detector_factory=detector_factory(),
    )
    dask = LocalModelStore(tmp_path / "dask")
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
        joblib.parallel_config(backend="dask"),
    ):
        report_dask = train(
            source,
            dask,
            small_config(MODULES[:1], n_jobs=2),
            end=sim_end,
            forecaster_factory=forecaster_factory(),
            detector_factory=detector_factory(),
        )
        # The tasks really went through the cluster's scheduler.
        assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.task_prefixes)) > 0

    assert [o.mase for o in report_dask.outcomes] == [o.mase for o in report_loky.outcomes]
    pd.testing.assert_frame_equal(_forecasts(dask), _forecasts(loky))
    recent = source.fetch(MODULES[:1], sim_end - timedelta(hours=6), sim_end, STEP).frame.set_index(
        "timestamp"
    )[list(METRIC_FIELDS)]
    a, b = loky.load_champion(MODULES[0]), dask.load_champion(MODULES[0])
    assert a is not None and b is not None
    pd.testing.assert_frame_equal(a.detector.score(recent), b.detector.score(recent))
