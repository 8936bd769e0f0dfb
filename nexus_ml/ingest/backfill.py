"""History backfill: a metric frame → OpenMetrics text → Prometheus TSDB blocks (``promtool``).

Every field is written as the gauge ``nexus:<field>{module="<module>"}``, the very series the
recording rules produce and the query catalog reads, so backfilled history reads back through
:class:`~nexus_ml.ingest.prometheus_source.PrometheusSource` exactly as written. Extra numeric
columns (the simulator's ``replicas``, ``demand_rpm``) are written as ``nexus:<column>`` too.
NaN cells are missing observations and are not written.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd

from nexus_ml.domain.frame import KEY_COLUMNS, validate_metric_frame
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import IngestError, InputError
from nexus_ml.logs import get_logger

log = get_logger(__name__)

#: Prefix of the per-module series (recording-rule level ``nexus:`` namespace).
SERIES_PREFIX = "nexus:"


def series_name(column: str) -> str:
    return f"{SERIES_PREFIX}{column}"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def backfill_columns(frame: pd.DataFrame) -> list[str]:
    """The columns written: every metric field, then extra numeric columns in frame order."""
    extras = [
        c
        for c in frame.columns
        if c not in KEY_COLUMNS
        and c not in METRIC_FIELDS
        and pd.api.types.is_numeric_dtype(frame[c])
        and str(c).isidentifier()
    ]
    return [*METRIC_FIELDS, *extras]


def openmetrics_lines(frame: pd.DataFrame) -> Iterator[str]:
    """The OpenMetrics exposition of ``frame``, one metric family per column, ending in ``# EOF``.

    Values use Python's shortest round-trip ``repr`` so that Prometheus parses back the very
    same float; timestamps are Unix seconds (OpenMetrics' unit).
    """
    frame = validate_metric_frame(frame)
    seconds = frame["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64) / 1e9
    stamps = [repr(float(s)) if s % 1 else str(int(s)) for s in seconds]
    modules = frame["module"].to_numpy()
    starts = np.flatnonzero(np.r_[True, modules[1:] != modules[:-1]])
    bounds = list(zip(starts, [*starts[1:], len(frame)], strict=True))
    for column in backfill_columns(frame):
        name = series_name(column)
        yield f"# TYPE {name} gauge"
        values = frame[column].to_numpy(dtype=float)
        finite = np.isfinite(values)
        as_python = values.tolist()  # Python floats: repr is the shortest exact form
        for lo, hi in bounds:
            labels = f'{{module="{_escape_label(str(modules[lo]))}"}}'
            for i in np.flatnonzero(finite[lo:hi]) + lo:
                yield f"{name}{labels} {as_python[i]!r} {stamps[i]}"
    yield "# EOF"


def write_openmetrics(frame: pd.DataFrame, out: TextIO) -> int:
    """Write the OpenMetrics text of ``frame`` to ``out``; return the samples written."""
    samples = 0
    for line in openmetrics_lines(frame):
        out.write(line)
        out.write("\n")
        samples += not line.startswith("#")
    return samples


@dataclass(frozen=True)
class BackfillResult:
    samples: int
    blocks: tuple[str, ...]
    openmetrics: tuple[Path, ...]


def find_promtool(promtool: str | None = None) -> str:
    """The ``promtool`` executable (given path or from PATH).

    Raises
    ------
    IngestError
        When it cannot be found.
    """
    found = shutil.which(promtool or "promtool")
    if not found:
        raise IngestError(
            f"promtool not found ({promtool or 'promtool'!r}); install the Prometheus tools "
            "or pass --promtool PATH"
        )
    return found


def promtool_block_seconds(max_block_duration: timedelta) -> int:
    """The block length promtool really uses: the largest 2 h x 3^k not above the maximum
    (18 h for 24 h), as in promtool's ``getCompatibleBlockDuration``."""
    limit = max_block_duration.total_seconds()
    block = 7200
    while block * 3 <= limit and block < 7200 * 3**9:
        block *= 3
    return block


def _run_promtool(cmd: list[str], timeout_s: float) -> None:
    log.info("backfill.running", command=" ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise IngestError(f"promtool did not finish within {timeout_s:g} s") from exc
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines() or ["(no output)"]
        raise IngestError(
            f"promtool tsdb create-blocks-from failed (exit {proc.returncode}): {lines[-1]}",
            returncode=proc.returncode,
        )


def backfill(
    frame: pd.DataFrame,
    tsdb_dir: Path,
    *,
    promtool: str | None = None,
    max_block_duration: timedelta = timedelta(hours=24),
    keep_openmetrics: Path | None = None,
    timeout_s: float = 600.0,
) -> BackfillResult:
    """Write ``frame`` as TSDB blocks into ``tsdb_dir`` with ``promtool tsdb create-blocks-from``.

    The frame is cut at promtool's block boundaries (multiples of
    :func:`promtool_block_seconds` since the epoch) and each piece goes to promtool on its own:
    promtool re-reads its whole input once per block window, so one file per window turns a
    quadratic cost into a linear one. Start Prometheus with ``--storage.tsdb.path`` at
    ``tsdb_dir`` (and a retention covering the history) to query the blocks at once; a running
    server picks new blocks up within a minute.

    Parameters
    ----------
    keep_openmetrics
        A directory to keep the OpenMetrics files in (default: a temporary one, deleted).

    Raises
    ------
    InputError
        When the frame is not a metric frame, is empty, or the block duration is not whole hours.
    IngestError
        When promtool is missing or fails; the message carries its last output line.
    """
    frame = validate_metric_frame(frame)
    if frame.empty:
        raise InputError("backfill: the metric frame has no rows")
    max_s = int(max_block_duration.total_seconds())
    if max_s < 3600 or max_s % 3600:
        raise InputError(f"max_block_duration must be whole hours, got {max_block_duration}")
    block_s = promtool_block_seconds(max_block_duration)
    tool = find_promtool(promtool)
    tsdb_dir.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in tsdb_dir.iterdir()}
    seconds = frame["timestamp"].to_numpy(dtype="datetime64[s]").astype(np.int64)
    windows = seconds // block_s
    samples, written = 0, []
    with tempfile.TemporaryDirectory(prefix="nexus-backfill-") as tmp:
        out_dir = keep_openmetrics or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        for window in np.unique(windows):
            piece = frame[windows == window]
            path = out_dir / f"history-{int(window) * block_s}.om"
            with path.open("w", encoding="utf-8") as out:
                samples += write_openmetrics(piece, out)
            written.append(path)
            _run_promtool(
                [
                    tool,
                    "tsdb",
                    "create-blocks-from",
                    "openmetrics",
                    f"--max-block-duration={max_s // 3600}h",
                    str(path),
                    str(tsdb_dir),
                ],
                timeout_s,
            )
    blocks = tuple(
        sorted(p.name for p in tsdb_dir.iterdir() if p.is_dir() and p.name not in before)
    )
    kept = tuple(written) if keep_openmetrics else ()
    log.info("backfill.done", samples=samples, blocks=len(blocks), tsdb_dir=tsdb_dir)
    return BackfillResult(samples=samples, blocks=blocks, openmetrics=kept)
