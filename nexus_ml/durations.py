"""Durations as operators write them: ``90s``, ``30m``, ``1.5h``, ``7d``, ``2w``, ``1d12h``.

The one parser of the project (CLI options, incident specs, settings), and the one way the
incident reports print how long something lasted (``45 s``, ``12 min``, ``2 h 05 min``).
"""

from __future__ import annotations

import re
from datetime import timedelta

from nexus_ml.errors import InputError

_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
MAX_DURATION_S = 100 * 365 * 86_400


def parse_duration(text: str) -> timedelta:
    """``text`` as a timedelta: one or more ``<number><unit>`` parts, units s, m, h, d, w.

    Raises
    ------
    InputError
        Quoting ``text`` when it is not such a duration, or is longer than 100 years.
    """
    cleaned = text.strip()
    parts = _PART.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise InputError(f"not a duration: {text!r} (examples: 90s, 30m, 1.5h, 7d, 2w, 1d12h)")
    seconds = sum(float(n) * _UNIT_S[u] for n, u in parts)
    if seconds > MAX_DURATION_S:
        raise InputError(f"duration {text!r} is longer than 100 years")
    return timedelta(seconds=seconds)


def report_duration(seconds: float) -> str:
    """How long something lasted, as the incident reports print it: seconds below a minute
    (``45 s``), whole minutes below an hour (``12 min``), hours and minutes above
    (``2 h 05 min``)."""
    if seconds < 60:
        return f"{max(seconds, 0):.0f} s"
    minutes = int(seconds // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
