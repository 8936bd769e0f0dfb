"""How each data category is sampled during a crisis (the ``sampling`` of its rule).

Rows are JSON-able dicts. A row "failed" when it says so (``failed: true``), or its ``status``
is a failure word, or its ``status_code`` is 5xx; ``value`` is what smart sampling ranks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from nexus_ml.crisis.rules import CategoryRule, Sampling

Row = dict[str, Any]

_FAILED_STATUS = {"failed", "failure", "error", "declined", "timeout", "rejected", "aborted"}
#: Smart sampling keeps the values above this quantile first (largest first, up to half the cap).
OUTLIER_QUANTILE = 0.95


def is_failed(row: Row) -> bool:
    """Whether ``row`` records a failure (see the module docstring)."""
    if row.get("failed") is True:
        return True
    status = row.get("status")
    if isinstance(status, str) and status.strip().lower() in _FAILED_STATUS:
        return True
    code = row.get("status_code")
    return isinstance(code, int) and code >= 500


def row_key(rule: CategoryRule, row: Row) -> str | None:
    """The unique key of ``row`` under ``rule`` (``None`` when the rule has no key)."""
    if not rule.key or row.get(rule.key) in (None, ""):
        return None
    return str(row[rule.key])


def _smart(rows: Sequence[Row], cap: int) -> list[Row]:
    valued = [r for r in rows if isinstance(r.get("value"), int | float)]
    if len(valued) <= cap:
        return list(valued)
    values = np.array([float(r["value"]) for r in valued])
    cut = float(np.quantile(values, OUTLIER_QUANTILE))
    # the tail (the largest first) takes at most half the room, so the sample still shows
    # what normal looked like during the crisis
    tail_all = sorted((i for i, v in enumerate(values) if v > cut), key=lambda i: -values[i])
    tail = tail_all[: max(1, cap // 2)]
    rest = [i for i in range(len(values)) if i not in set(tail)]
    room = cap - len(tail)
    spread = (
        [rest[int(j)] for j in np.linspace(0, len(rest) - 1, room)] if room > 0 and rest else []
    )
    return [valued[i] for i in sorted({*tail, *spread})]


def sample(rule: CategoryRule, rows: Iterable[Row], seen: set[str] | None = None) -> list[Row]:
    """The rows of one category to keep, at most ``rule.max_rows``.

    Parameters
    ----------
    rule
        The category's rule.
    rows
        Candidate rows, oldest first.
    seen
        Keys already stored for this incident (unique sampling skips them).
    """
    candidates = list(rows)
    if rule.sampling in (Sampling.ALL_FAILED, Sampling.FAILED_ONLY):
        kept = [r for r in candidates if is_failed(r)]
    elif rule.sampling is Sampling.UNIQUE:
        known = set(seen or ())
        kept = []
        for r in candidates:
            key = row_key(rule, r)
            if key is None or key in known:
                continue
            known.add(key)
            kept.append(r)
    elif rule.sampling is Sampling.SMART:
        kept = _smart(candidates, rule.max_rows)
    else:
        kept = candidates
    return kept[: rule.max_rows]
