"""``PrometheusSource``: a :class:`MetricSource` over the Prometheus HTTP API.

One range query per (field, chunk) returns every module at once (the catalog's templates group
by the ``module`` label), chunks stay under Prometheus' 11,000-points-per-series limit, and
queries run on a small thread pool since each one mostly waits on the server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.exceptions import ReadTimeoutError
from urllib3.util.retry import Retry

from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import IngestError
from nexus_ml.ingest.frame_source import DEFAULT_STALE_AFTER
from nexus_ml.ingest.quality import assess_quality
from nexus_ml.ingest.queries import QueryCatalog, load_query_catalog
from nexus_ml.ingest.source import MetricFetch
from nexus_ml.ingest.timegrid import (
    DEFAULT_CHUNK_POINTS,
    Grid,
    aligned_grid,
    grid_frame,
    plan_chunks,
    stitch,
)
from nexus_ml.logs import get_logger

log = get_logger(__name__)

#: ``progress(done, total)`` after each finished query.
ProgressCallback = Callable[[int, int], None]

_Series = list[dict[str, Any]]
#: A parsed range-query series: labels, Unix seconds, values.
_Parsed = tuple[dict[str, str], np.ndarray, np.ndarray]


def parse_matrix(result: _Series) -> list[_Parsed]:
    """Labels and numpy arrays of each series of a range-query result."""
    parsed = []
    for series in result:
        values = series["values"]
        n = len(values)
        seconds = np.fromiter((v[0] for v in values), dtype=np.float64, count=n)
        numbers = np.fromiter((float(v[1]) for v in values), dtype=np.float64, count=n)
        parsed.append((series.get("metric", {}), seconds.astype(np.int64), numbers))
    return parsed


def _server_error(exc: PrometheusApiClientException) -> str:
    """The ``error`` text of a Prometheus API error body, or the client's message."""
    match = re.search(r"\((b?['\"])(.*)\1\)$", str(exc), re.S)
    if match:
        try:
            body = json.loads(match.group(2).encode().decode("unicode_escape"))
            return f"{body.get('errorType', 'error')}: {body.get('error', '')}".strip()
        except (ValueError, AttributeError):
            pass
    return str(exc)


class PrometheusSource:
    """Fetch metric frames from Prometheus (or anything answering its HTTP API).

    Parameters
    ----------
    url
        Base URL, e.g. ``http://127.0.0.1:9090``.
    timeout_s
        Bound on each HTTP request (connect and read); pass ``settings.prometheus_timeout_s``.
    catalog
        The query catalog; the bundled one when ``None``.
    chunk_points
        Points per series per range query (at most 11,000).
    concurrency
        Range queries in flight at once.
    stale_after
        A module whose newest value is older than this at the end of a fetch is stale.
    compress
        Ask for gzip-compressed answers. Off by default: next to Prometheus (loopback, LAN) the
        compression costs both sides more CPU than the bytes it saves (2-3x slower in the
        ingest benchmark); turn it on across slow links.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        catalog: QueryCatalog | None = None,
        chunk_points: int = DEFAULT_CHUNK_POINTS,
        concurrency: int = 4,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        compress: bool = False,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.catalog = catalog or load_query_catalog()
        self.chunk_points = chunk_points
        self.concurrency = max(1, concurrency)
        self.stale_after = stale_after
        # No retries: an unreachable server must fail within one timeout, not three backoffs.
        self._client = PrometheusConnect(
            url=self.url,
            retry=Retry(total=0, raise_on_status=False),
            headers=None if compress else {"Accept-Encoding": "identity"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self._client.close()

    def _call(self, query: str, fn: Callable[[], _Series]) -> _Series:
        try:
            return fn()
        except PrometheusApiClientException as exc:
            raise IngestError(
                f"Prometheus at {self.url} rejected query {query!r}: {_server_error(exc)}",
                url=self.url,
                query=query,
            ) from exc
        except requests.RequestException as exc:
            # Without retries urllib3 reports a read timeout as a ConnectionError: look inside.
            reason = getattr(exc.args[0], "reason", exc.args[0]) if exc.args else exc
            if isinstance(exc, requests.ReadTimeout) or isinstance(reason, ReadTimeoutError):
                raise IngestError(
                    f"Prometheus at {self.url} did not answer within {self.timeout_s:g} s "
                    f"(query {query!r})",
                    url=self.url,
                    query=query,
                ) from exc
            raise IngestError(
                f"Prometheus at {self.url} is unreachable: {exc.__class__.__name__}: {reason}",
                url=self.url,
                query=query,
            ) from exc
        except ValueError as exc:  # a body that is not the Prometheus API's JSON
            raise IngestError(
                f"Prometheus at {self.url} sent an unreadable answer to {query!r}: {exc}",
                url=self.url,
                query=query,
            ) from exc

    def query_range(self, query: str, chunk: Grid) -> _Series:
        """Raw result of one range query over ``chunk`` (list of ``{metric, values}``)."""
        start = datetime.fromtimestamp(chunk.start, UTC)
        end = datetime.fromtimestamp(chunk.end, UTC)
        return self._call(
            query, lambda: self._client.custom_query_range(query, start, end, str(chunk.step))
        )

    def query(self, query: str, at: datetime | None = None) -> _Series:
        """Raw result of one instant query (at ``at``, or now)."""
        params = {"time": str(at.timestamp())} if at is not None else None
        return self._call(query, lambda: self._client.custom_query(query, params=params))

    def fetch(
        self,
        modules: Sequence[str],
        start: datetime,
        end: datetime,
        step: timedelta = timedelta(minutes=1),
        *,
        progress: ProgressCallback | None = None,
    ) -> MetricFetch:
        """The metric frame of ``modules`` on the aligned ``step`` grid within ``[start, end]``.

        Raises
        ------
        IngestError
            Naming the URL and the cause when Prometheus is unreachable or slower than the
            timeout, and the query text when Prometheus rejects a query.
        """
        grid = aligned_grid(start, end, step)
        chunks = plan_chunks(grid, self.chunk_points)
        fields = (*METRIC_FIELDS, *self.catalog.extra)
        jobs = [(f, self.catalog.query(f, modules, step), c) for f in fields for c in chunks]
        pieces: dict[tuple[str, str], list[tuple[np.ndarray, np.ndarray]]] = {}
        nan_values = dict.fromkeys(modules, 0)
        wanted = set(modules)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="prom-fetch") as pool:
            # parsing happens in the workers too, overlapping with the other queries' waits
            futures: dict[Future[list[_Parsed]], str] = {
                pool.submit(lambda q, c: parse_matrix(self.query_range(q, c)), q, c): f
                for f, q, c in jobs
            }
            done_count = 0
            pending: set[Future[list[_Parsed]]] = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for fut in done:
                    if fut.exception() is not None:
                        for other in pending:
                            other.cancel()
                        fut.result()  # re-raises the IngestError
                    for labels, seconds, values in fut.result():
                        module = labels.get("module")
                        if module not in wanted:
                            log.warning(
                                "ingest.series_ignored", reason="no wanted module", labels=labels
                            )
                            continue
                        if futures[fut] in METRIC_FIELDS:  # the quality of the metrics
                            nan_values[module] += int(np.isnan(values).sum())
                        pieces.setdefault((module, futures[fut]), []).append((seconds, values))
                    done_count += 1
                    if progress is not None:
                        progress(done_count, len(jobs))
        columns: dict[tuple[str, str], np.ndarray] = {}
        duplicates = dict.fromkeys(modules, 0)
        for (module, f), parts in pieces.items():
            columns[(module, f)], dup = stitch(parts, grid)
            duplicates[module] += dup
        frame = grid_frame(grid, modules, columns, self.catalog.extra)
        end_at = datetime.fromtimestamp(grid.end, UTC)
        quality = assess_quality(
            frame,
            modules,
            step=step,
            now=end_at,
            stale_after=self.stale_after,
            nan_values=nan_values,
            duplicate_timestamps=duplicates,
            counter_resets=self.counter_resets(modules, grid),
        )
        log.info(
            "ingest.fetched",
            modules=len(modules),
            fields=len(METRIC_FIELDS),
            steps=grid.points,
            queries=len(jobs),
            url=self.url,
        )
        return MetricFetch(frame=frame, quality=quality)

    def counter_resets(self, modules: Sequence[str], grid: Grid) -> dict[str, int]:
        """Resets of each module's raw counters within the grid's span (catalog queries)."""
        window = timedelta(seconds=grid.end - grid.start + grid.step)
        at = datetime.fromtimestamp(grid.end, UTC)
        resets = dict.fromkeys(modules, 0)
        for query in self.catalog.reset_queries(modules, window):
            for series in self.query(query, at):
                module = series.get("metric", {}).get("module")
                if module in resets:
                    resets[module] += int(float(series["value"][1]))
        return resets
