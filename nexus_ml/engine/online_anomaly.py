"""Anomaly scores of the newest minute, kept up to date online (no rescoring of the window).

The decision path needs one score per module per minute. Rescoring the whole window every
time costs O(window) nearest-neighbour searches; instead each module keeps its own copy of the
champion detector and feeds it only the rows it has not seen (``AnomalyDetector.update``). A
new champion version, a gap or time going backwards restarts from the champion's fitted state
with a short warm-up.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import Any

import pandas as pd

from nexus_ml.errors import InputError
from nexus_ml.models.registry.store import ModelBundle


@dataclass
class _ModuleState:
    version: str
    detector: Any
    last_seen: pd.Timestamp
    latest: pd.Series


class OnlineAnomalyScorer:
    """Per-module online detectors.

    Parameters
    ----------
    warmup_rows : int
        Rows of the window replayed into a fresh copy of the detector after a reset.
    """

    def __init__(self, *, warmup_rows: int = 30) -> None:
        self.warmup_rows = warmup_rows
        self._states: dict[str, _ModuleState] = {}
        self._lock = threading.Lock()
        self.resets = 0  # restarts from the champion (a new version, a gap): rare when healthy

    def latest(self, bundle: ModelBundle, frame: pd.DataFrame) -> pd.Series | None:
        """Scores (per field and ``combined``) of the newest row of ``frame``."""
        if bundle.detector is None or frame.empty:
            return None
        if not isinstance(frame.index, pd.DatetimeIndex):
            raise InputError("online anomaly scoring needs a frame indexed by time")
        with self._lock:
            state = self._states.get(bundle.module)
            if state is not None and self._continues(state, bundle, frame):
                new_rows = frame[frame.index > state.last_seen]
                if new_rows.empty:
                    return state.latest
                detector = state.detector
            else:
                detector = copy.deepcopy(bundle.detector)
                new_rows = frame.iloc[-self.warmup_rows :]
                self.resets += 1
            scores = detector.update(new_rows)
            latest = scores.iloc[-1]
            self._states[bundle.module] = _ModuleState(
                bundle.version, detector, new_rows.index[-1], latest
            )
            return latest

    @staticmethod
    def _continues(state: _ModuleState, bundle: ModelBundle, frame: pd.DataFrame) -> bool:
        """The window picks up where the module's detector left off, with the same model."""
        return (
            state.version == bundle.version and frame.index[0] <= state.last_seen <= frame.index[-1]
        )
