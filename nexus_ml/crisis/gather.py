"""Turn raw evidence into the rows of each data category, and store what the rules allow.

Where each category comes from:

- ``affected_transactions``, ``impacted_customers``, ``failed_integration_calls``: the module's
  structured log lines (a JSON object, or ``key=value`` pairs, with ``transaction_id``,
  ``customer_id``, ``target``/``integration``, ``status``/``status_code``);
- ``stack_traces``, ``container_logs``: the container logs (:mod:`~.swarm_evidence`);
- ``task_states``: Swarm's tasks;
- ``response_time_samples``, ``metric_series``, ``call_latencies``: the incident's metric window
  (Prometheus, or the frame the collection read);
- ``actions``: the audit trail's executor entries, with the images the executor saw.

:func:`store_rows` applies the category's sampling and the error type's storage limit; rows of
an ignored category are never stored.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from nexus_ml.crisis.records import RecordStore, Row
from nexus_ml.crisis.rules import CrisisRules
from nexus_ml.crisis.sampling import is_failed, row_key, sample
from nexus_ml.crisis.swarm_evidence import LogLine, stack_traces
from nexus_ml.logs import get_logger

log = get_logger(__name__)

_PAIR = re.compile(r"\b([a-z_]+)=(\"[^\"]*\"|\S+)")
#: Natural keys: a row with the same key is stored once per incident.
_KEYS = {
    "affected_transactions": "transaction_id",
    "impacted_customers": "customer_id",
    "stack_traces": "fingerprint",
    "task_states": "id",
}


@dataclass
class StoreResult:
    """Per category: rows stored, rows dropped by the storage limit, categories ignored."""

    stored: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    ignored: dict[str, int] = field(default_factory=dict)


def parse_structured(text: str) -> dict[str, Any] | None:
    """A log line's fields (JSON object or ``key=value`` pairs), ``None`` if it has none."""
    body = text.strip()
    if body.startswith("{"):
        try:
            value = json.loads(body)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None
    pairs = {k: v.strip('"') for k, v in _PAIR.findall(body)}
    if not pairs:
        return None
    if "status_code" in pairs and pairs["status_code"].isdigit():
        return {**pairs, "status_code": int(pairs["status_code"])}
    return dict(pairs)


def log_rows(lines: Sequence[LogLine]) -> dict[str, list[dict[str, Any]]]:
    """Category rows read from container log lines."""
    out: dict[str, list[dict[str, Any]]] = {
        "container_logs": [],
        "affected_transactions": [],
        "impacted_customers": [],
        "failed_integration_calls": [],
    }
    for line in lines:
        at = line.at.isoformat() if line.at else None
        out["container_logs"].append({"at": at, "text": line.text[:2000]})
        fields = parse_structured(line.text)
        if not fields:
            continue
        row = {"at": at, **fields}
        if fields.get("transaction_id"):
            out["affected_transactions"].append(row)
            if fields.get("customer_id") and is_failed(fields):
                out["impacted_customers"].append(
                    {"at": at, "customer_id": str(fields["customer_id"])}
                )
        if fields.get("target") or fields.get("integration"):
            out["failed_integration_calls"].append(row)
    out["stack_traces"] = stack_traces(lines)
    return out


def metric_rows(
    frame: pd.DataFrame, module: str, dependencies: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """Category rows from a metric window (long rows, finite values only)."""
    out: dict[str, list[dict[str, Any]]] = {
        "metric_series": [],
        "response_time_samples": [],
        "call_latencies": [],
    }
    metrics = [c for c in frame.columns if c not in ("module", "timestamp")]
    for rec in frame.to_dict("records"):
        at = pd.Timestamp(rec["timestamp"]).isoformat()
        for metric in metrics:
            value = rec.get(metric)
            if not isinstance(value, int | float) or not math.isfinite(value):
                continue
            out["metric_series"].append(
                {"at": at, "module": rec["module"], "metric": metric, "value": float(value)}
            )
            if rec["module"] == module and metric == "response_time":
                out["response_time_samples"].append({"at": at, "value": float(value)})
            if rec["module"] == module and metric == "network_latency":
                out["call_latencies"].append(
                    {"at": at, "caller": module, "targets": list(dependencies),
                     "value": float(value)}
                )  # fmt: skip
            if rec["module"] in dependencies and metric == "response_time":
                out["call_latencies"].append(
                    {"at": at, "caller": module, "targets": [rec["module"]],
                     "value": float(value), "kind": "dependency_response_time"}
                )  # fmt: skip
    return out


def _row(category: str, payload: dict[str, Any], fallback: datetime) -> Row:
    key_field = _KEYS.get(category)
    if key_field and payload.get(key_field) not in (None, ""):
        key = f"{key_field}:{payload[key_field]}"
    else:  # no natural key: the content is the key (re-collection must not duplicate)
        key = hashlib.sha1(
            json.dumps(payload, sort_keys=True, default=str).encode(), usedforsecurity=False
        ).hexdigest()
    at_text = payload.get("at")
    at = datetime.fromisoformat(at_text) if isinstance(at_text, str) else fallback
    return Row(at=at, key=key, payload=payload)


def store_rows(
    store: RecordStore,
    rules: CrisisRules,
    incident_id: str,
    error_type: str,
    candidates: Mapping[str, Sequence[dict[str, Any]]],
    now: datetime,
) -> StoreResult:
    """Store each category's rows as the rules say: ignored categories are skipped (counted),
    the others sampled, and nothing stored past the error type's storage limit."""
    rule = rules.for_type(error_type)
    result = StoreResult()
    used = store.bytes_used(incident_id)
    for category, rows in candidates.items():
        if category not in rules.categories:
            continue
        if category not in rule.collect:
            result.ignored[category] = len(rows)
            continue
        cat_rule = rules.categories[category]
        seen = {k.split(":", 1)[-1] for k in store.keys(incident_id, category)}
        picked = sample(cat_rule, rows, seen=seen)
        if cat_rule.key and cat_rule.key != _KEYS.get(category):
            picked = [r for r in picked if row_key(cat_rule, r) is not None]
        kept: list[Row] = []
        for payload in picked:
            size = len(json.dumps(payload, default=str))
            if used + size > rule.storage_limit_bytes:
                result.dropped[category] = result.dropped.get(category, 0) + 1
                continue
            used += size
            kept.append(_row(category, payload, now))
        result.stored[category] = store.add(incident_id, category, kept)
    if result.dropped:
        log.warning(
            "incident.storage_limit_reached",
            incident=incident_id,
            limit_mb=rule.storage_limit_mb,
            dropped=",".join(f"{kind}:{n}" for kind, n in sorted(result.dropped.items())),
        )
    return result
