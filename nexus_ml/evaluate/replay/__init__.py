"""Replay model v1 (../shared/BENCHMARKS.md): autoscaling policies replayed on demand traces."""

from nexus_ml.evaluate.replay.metrics import ReplayMetrics, score_replay
from nexus_ml.evaluate.replay.observation import Observation, Policy
from nexus_ml.evaluate.replay.physics import ReplayParams, ReplayResult, prepare_trace, replay
from nexus_ml.evaluate.replay.registry import POLICIES, make_policy
from nexus_ml.evaluate.replay.trace import load_trace

__all__ = [
    "POLICIES",
    "Observation",
    "Policy",
    "ReplayMetrics",
    "ReplayParams",
    "ReplayResult",
    "load_trace",
    "make_policy",
    "prepare_trace",
    "replay",
    "score_replay",
]
