"""The HTTP seam of the release pipeline: one request, its status, headers, body and duration."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Answer:
    """One HTTP answer; ``status`` 0 means no answer at all (refused, timed out)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    error: str = ""

    def json(self) -> Any:
        """The body as JSON, or ``None`` when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def header(self, name: str) -> str:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")


class Http(Protocol):
    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer: ...


@dataclass(frozen=True)
class UrllibHttp:
    """The standard library's client: one connection per request, as a browser's first."""

    timeout_s: float = 5.0

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
        if body is not None:
            req.add_header("Content-Type", "application/json")
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                data = resp.read()
                return Answer(resp.status, data, dict(resp.headers), time.perf_counter() - start)
        except urllib.error.HTTPError as exc:
            data = exc.read()
            return Answer(exc.code, data, dict(exc.headers), time.perf_counter() - start)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return Answer(0, seconds=time.perf_counter() - start, error=str(reason))
