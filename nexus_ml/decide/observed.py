"""What the world says about a module's recent past: changes and restarts (pure, no I/O).

The policy keeps no memory of its own. When the replicas last changed comes from the replica
counts observed in the metric window and from the actions the executor reports it applied
(its audit trail); the restart budget from those actions alone. A skipped action leaves no
trace here, so it is decided again on the next pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from nexus_ml.decide.window import MetricWindow
from nexus_ml.domain import Action

#: The actions that change a module's service.
CHANGES = (Action.SCALE_UP, Action.SCALE_DOWN, Action.RESTART, Action.ROLLBACK)
#: The changes after which replicas are new and still settling: what a scale-down waits on.
ADDING_CHANGES = tuple(a for a in CHANGES if a is not Action.SCALE_DOWN)


@dataclass(frozen=True)
class RecentAction:
    """An action the executor applied to a module, and when."""

    action: Action
    at: datetime


@dataclass(frozen=True)
class ModuleObservation:
    """What the executor observed of one module's service.

    ``replicas`` is the spec's count and ``recent_actions`` what it applied lately. Of the
    release: the ``image`` running, the spec ``version``, ``updated_at`` (Swarm's UpdatedAt),
    ``previous_image`` (the image the current release replaced), ``released_at`` (when the
    current image was released, kept across the executor's own changes), ``update_state``
    (Swarm's UpdateStatus) and ``rolled_back`` (the spec is the executor's rollback).
    ``deployed_at`` is an explicit deploy time that overrides what the release says.
    """

    replicas: int | None = None
    recent_actions: tuple[RecentAction, ...] = ()
    deployed_at: datetime | None = None
    image: str = ""
    version: int | None = None
    updated_at: datetime | None = None
    previous_image: str = ""
    released_at: datetime | None = None
    update_state: str = ""
    rolled_back: bool = False

    def release_at(self) -> datetime | None:
        """When the running release was deployed, for the post-deploy check (None: unknown,
        or the spec is a rollback to a known version)."""
        if self.deployed_at is not None:
            return self.deployed_at
        if self.rolled_back:
            return None
        if self.released_at is not None:
            return self.released_at
        changed = self.previous_image and self.previous_image != self.image
        return self.updated_at if changed else None


def replicas_changed_at(window: MetricWindow, *, falls: bool = True) -> datetime | None:
    """The first minute of the window's current replica count (None: never seen changing).

    ``falls=False``: the first minute after the count last rose (a fall is not a change)."""
    counts = np.asarray(window.replicas, dtype=float)
    seen = np.flatnonzero(np.isfinite(counts))
    if seen.size < 2:
        return None
    rounded = np.round(counts[seen])
    step = rounded[1:] - rounded[:-1]
    moved = np.flatnonzero(step != 0 if falls else step > 0)
    return window.timestamps[int(seen[moved[-1] + 1])] if moved.size else None


def last_change_at(
    window: MetricWindow, actions: Sequence[RecentAction], *, scale_downs: bool = True
) -> datetime | None:
    """When the module last changed: a replica count that moved, or an applied action.

    ``scale_downs=False`` leaves out what only removed replicas (a scale-down applied, a count
    that fell): the changes after which replicas are new and still settling — what a
    scale-down's wait counts from (successive scale-downs are paced by the strategy's
    stabilisation, as Kubernetes' HPA paces them)."""
    kinds = CHANGES if scale_downs else ADDING_CHANGES
    stamps = [a.at for a in actions if a.action in kinds]
    seen = replicas_changed_at(window, falls=scale_downs)
    if seen is not None:
        stamps.append(seen)
    return max(stamps) if stamps else None


def restart_times(actions: Sequence[RecentAction]) -> tuple[datetime, ...]:
    """When the executor restarted the module (the restart budget is counted from these)."""
    return tuple(a.at for a in actions if a.action is Action.RESTART)
