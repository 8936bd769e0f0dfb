"""What a replayed policy sees each minute, and the policy seam (replay model v1).

A policy sees, at the start of minute t, everything before t: demand d_k and ready replicas S_k
for k < t, and its own current target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from nexus_ml.evaluate.replay.physics import PreparedTrace


@dataclass(frozen=True)
class Observation:
    t: int
    demand: np.ndarray  # d_k for k < t (a view: do not modify)
    ready: np.ndarray  # S_k for k < t
    target: int  # the target in force (set at t − 1)


class Policy(Protocol):
    name: str

    def reset(self, trace: PreparedTrace, *, initial_target: int) -> None: ...

    def target(self, obs: Observation) -> int: ...
