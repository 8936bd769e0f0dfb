"""Evidence from Docker Swarm: a service's container logs and its task states (docker SDK).

Both are bounded: logs by time (``since``), line count (``tail``) and bytes; tasks by count.
Every line passes through :func:`nexus_ml.redact.redact` with the known secrets, so a token a
module prints never reaches the crisis store. Stack traces are cut out of the logs (Python
``Traceback`` blocks and Java-style ``Exception``/``at`` blocks) and fingerprinted, so the
``stack_traces`` category keeps every unique one once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from nexus_ml.execute.swarm_release import image, release_of, rollout_started_at
from nexus_ml.logs import get_logger
from nexus_ml.redact import redact

log = get_logger(__name__)

_TS = re.compile(r"^(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)\s(?P<rest>.*)$")
_TRACE_START = re.compile(r"^Traceback \(most recent call last\):|^\S+(?:Exception|Error)\b.*:")
_TRACE_LINE = re.compile(r"^\s+|^\S+(?:Exception|Error)\b|^Caused by:")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class LogLine:
    at: datetime | None
    text: str


@dataclass
class SwarmEvidence:
    """What Swarm says about one module's service during an incident."""

    service: str
    logs: list[LogLine] = field(default_factory=list)
    logs_truncated: bool = False
    tasks: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def _parse_line(raw: str) -> LogLine:
    match = _TS.match(raw)
    if not match:
        return LogLine(None, raw)
    stamp = match["ts"].rstrip("Z")
    whole, _, frac = stamp.partition(".")
    at = datetime.fromisoformat(whole + ("." + frac[:6] if frac else "")).replace(tzinfo=UTC)
    return LogLine(at, match["rest"])


def read_logs(
    client: Any,
    service: str,
    *,
    since: datetime,
    tail: int = 2000,
    max_bytes: int = 512 * 1024,
    secrets: Sequence[str | None] = (),
) -> tuple[list[LogLine], bool]:
    """A service's stdout and stderr since ``since``, at most ``tail`` lines and ``max_bytes``.

    Returns the lines (oldest first, redacted) and whether the byte bound cut them short.
    """
    chunks: Iterable[bytes] = client.api.service_logs(
        service,
        stdout=True,
        stderr=True,
        timestamps=True,
        since=int(since.timestamp()),
        tail=tail,
        follow=False,
    )
    lines: list[LogLine] = []
    used, truncated, pending = 0, False, b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for raw in complete:
            used += len(raw) + 1
            if used > max_bytes:
                truncated = True
                break
            text = redact(raw.decode("utf-8", errors="replace").rstrip("\r"), secrets)
            lines.append(_parse_line(text))
        if truncated:
            break
    if pending and not truncated and used + len(pending) <= max_bytes:
        lines.append(_parse_line(redact(pending.decode("utf-8", errors="replace"), secrets)))
    lines.sort(key=lambda line: line.at or datetime.min.replace(tzinfo=UTC))
    return lines, truncated


def read_tasks(client: Any, service: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The service's tasks (newest first): state, desired state, image, exit code, error."""
    tasks = client.api.tasks(filters={"service": service})
    out = []
    for t in tasks:
        status = t.get("Status", {})
        spec = t.get("Spec", {}).get("ContainerSpec", {})
        out.append(
            {
                "id": t.get("ID", "")[:12],
                "slot": t.get("Slot"),
                "state": status.get("State", ""),
                "desired_state": t.get("DesiredState", ""),
                "message": status.get("Message", ""),
                "error": status.get("Err", ""),
                "exit_code": status.get("ContainerStatus", {}).get("ExitCode"),
                "image": _untagged(spec.get("Image", "")),
                "at": status.get("Timestamp", ""),
            }
        )
    out.sort(key=lambda t: str(t["at"]), reverse=True)
    return out[:limit]


def read_release(client: Any, service: str) -> dict[str, Any]:
    """The release ``service`` runs: its image, the image it replaced and when it was released
    (read as the executor reads it, :func:`~nexus_ml.execute.swarm_release.release_of`, so a
    scale by the executor after a release does not hide it). After a rollback, the image it
    rolled back from and when. Empty strings where Swarm and our labels do not say."""
    attrs = client.api.inspect_service(service)
    release = release_of(attrs)
    current = _untagged(image(attrs["Spec"]))
    previous, at = release.previous_image, release.released_at
    if release.rolled_back:  # Swarm's PreviousSpec is the release rolled back from
        before = attrs.get("PreviousSpec")
        previous = image(before) if before else ""
        at = rollout_started_at(attrs)
        if _untagged(previous) == current:  # a later change (a scale) replaced it
            previous, at = "", None
    return {
        "image": current,
        "previous_image": _untagged(previous),
        "at": at.isoformat() if at else "",
    }


def _untagged(ref: str) -> str:
    """An image reference without the digest the Engine pins on it."""
    return ref.split("@", 1)[0]


def collect_swarm(
    client: Any,
    service: str,
    *,
    since: datetime,
    tail: int = 2000,
    max_bytes: int = 512 * 1024,
    secrets: Sequence[str | None] = (),
) -> SwarmEvidence:
    """Logs and tasks of ``service``; an Engine error is recorded, not raised (the rest of the
    incident's evidence is still worth keeping)."""
    import docker

    evidence = SwarmEvidence(service=service)
    try:
        evidence.logs, evidence.logs_truncated = read_logs(
            client, service, since=since, tail=tail, max_bytes=max_bytes, secrets=secrets
        )
        evidence.tasks = read_tasks(client, service)
    except (docker.errors.DockerException, OSError) as exc:
        evidence.error = redact(str(exc), secrets)
        log.warning("incident.swarm_evidence_unavailable", service=service, error=evidence.error)
    return evidence


def fingerprint(trace: Sequence[str]) -> str:
    """A stable id of a stack trace: its lines with numbers (line numbers, ids) removed."""
    normal = "\n".join(_DIGITS.sub("#", line.strip()) for line in trace)
    return hashlib.sha256(normal.encode()).hexdigest()[:16]


def stack_traces(lines: Sequence[LogLine]) -> list[dict[str, Any]]:
    """Every stack trace in ``lines`` as a row (``fingerprint``, first line, text, time)."""
    found: list[dict[str, Any]] = []
    current: list[LogLine] = []

    def flush() -> None:
        if current:
            text = [line.text for line in current]
            found.append(
                {
                    "fingerprint": fingerprint(text),
                    "error": text[-1].strip() if text[0].startswith("Traceback") else text[0],
                    "trace": "\n".join(text)[:8000],
                    "at": current[0].at.isoformat() if current[0].at else None,
                }
            )
            current.clear()

    for line in lines:
        if current and _TRACE_LINE.match(line.text):
            current.append(line)
            continue
        flush()
        if _TRACE_START.match(line.text):
            current.append(line)
    flush()
    return found
