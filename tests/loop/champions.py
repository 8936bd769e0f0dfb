"""Champions for the closed loop: trained on simulated history, registered in a real MLflow.

The project's own pipeline (``pipelines.train.train``) fits, backtests, judges and publishes
one bundle per module; a first version has no champion to beat, so the gate promotes it and
the ``champion`` alias points at it. What keeps this cheap enough for the test suite is the
data, not a different model: a week of history, the two forecast fields the service needs,
and a detector over the four fields a degraded release moves, with a half-day neighbour search
and reference span (the defaults search 6,000 rows and remember 10,000: ~30 s per module on
the suite's two cores).

Training runs in a child process at the lowest CPU priority, started as soon as the session
knows it will need champions (``conftest.py``): it uses the cycles the rules-based loop test
leaves idle while it waits on its compressed clock, instead of adding half a minute.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from nexus_ml.models.registry.mlflow_store import MlflowModelStore

HISTORY_DAYS = 7.0
FORECAST_FIELDS = ("requests_per_min", "cpu_usage")
DETECTOR_FIELDS = ("requests_per_min", "error_rate", "response_time", "cpu_usage")
EXPERIMENT = "nexus-closed-loop-test"


@dataclass(frozen=True)
class Trained:
    """What the training pipeline reported for one module."""

    module: str
    status: str
    version: str
    mase: float


def train_and_publish(
    tracking_uri: str, model_prefix: str, end: datetime, seed: int
) -> list[Trained]:
    """Simulate the week before ``end``, train every catalog module and publish it to MLflow.

    Runs in the child process (picklable arguments, imports inside).
    """
    from nexus_ml.catalog import load_catalog
    from nexus_ml.ingest.frame_source import FrameSource
    from nexus_ml.sim.history import simulate_history
    from pipelines.train import TrainConfig, lead_times_of, train

    catalog = load_catalog()
    history = simulate_history(
        catalog, start=end - timedelta(days=HISTORY_DAYS), days=HISTORY_DAYS, seed=seed
    )
    store = MlflowModelStore(tracking_uri, experiment=EXPERIMENT, model_prefix=model_prefix)
    config = TrainConfig(
        modules=catalog.names,
        days=HISTORY_DAYS,
        forecast_fields=FORECAST_FIELDS,
        n_jobs=2,
        lead_times=lead_times_of(catalog),
        detector_params={
            "fields": list(DETECTOR_FIELDS),
            "history": 720,
            "max_reference": 720,
            "window_lengths": (4, 16),
        },
    )
    report = train(FrameSource(history, name="simulated week"), store, config, end=end)
    return [Trained(o.module, o.status, o.version, o.mase) for o in report.outcomes]


def _train_child(
    conn: Connection, tracking_uri: str, model_prefix: str, end: datetime, seed: int
) -> None:
    os.nice(19)  # only the cycles nobody else wants
    try:
        conn.send(train_and_publish(tracking_uri, model_prefix, end, seed))
    except BaseException as exc:  # the parent re-raises it
        conn.send(exc)
    finally:
        conn.close()


@dataclass
class Champions:
    """The store the service reads, and the training (maybe still running) into it."""

    store: MlflowModelStore
    process: BaseProcess
    conn: Connection
    _outcome: list[Trained] | None = None

    def trained(self, timeout_s: float) -> list[Trained]:
        """The outcome per module once training is done (raises what training raised)."""
        if self._outcome is None:
            if not self.conn.poll(timeout_s):
                raise TimeoutError(f"champion training still running after {timeout_s:g} s")
            got = self.conn.recv()
            if isinstance(got, BaseException):
                raise got
            self._outcome = got
        return self._outcome


@contextlib.contextmanager
def champions_in_background(
    tracking_uri: str, modules: tuple[str, ...], *, end: datetime, seed: int = 11
) -> Iterator[Champions]:
    """Start training (niced) into fresh, uniquely prefixed MLflow models; yield at once.

    The registered models and their runs are deleted afterwards (the MLflow server is shared).
    """
    store = MlflowModelStore(
        tracking_uri, experiment=EXPERIMENT, model_prefix=f"loop-{uuid.uuid4().hex[:8]}-"
    )
    # spawn, not fork: the parent runs threads (the child would inherit their locks); a plain
    # process, not a Pool worker, because daemonic workers cannot start joblib's own workers
    ctx = multiprocessing.get_context("spawn")
    ours, theirs = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_train_child, args=(theirs, tracking_uri, store.model_prefix, end, seed)
    )
    process.start()
    theirs.close()
    try:
        yield Champions(store, process, ours)
    finally:
        if process.is_alive():  # a session that ended early does not wait for the training
            process.terminate()
        process.join(10)
        ours.close()
        client = store._client()
        for module in modules:
            with contextlib.suppress(Exception):  # not registered when training failed early
                name = store.model_name(module)
                for version in client.search_model_versions(f"name = '{name}'"):
                    if version.run_id:
                        client.delete_run(version.run_id)
                client.delete_registered_model(name)
