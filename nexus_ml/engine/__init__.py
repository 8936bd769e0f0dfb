"""The decision engine: one module's inputs gathered and handed to the pure policy.

The service's routes, the demo loop and the replay benchmark all decide through
:class:`DecisionEngine` — one code path from the metric window to the decision.
"""

from nexus_ml.engine.engine import (
    Champions,
    Clock,
    DecisionEngine,
    EngineMetrics,
    NullMetrics,
    Snapshot,
)

__all__ = ["Champions", "Clock", "DecisionEngine", "EngineMetrics", "NullMetrics", "Snapshot"]
