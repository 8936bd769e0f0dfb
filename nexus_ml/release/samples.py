"""Metric samples of one version: ``timestamp, metric, value`` rows grouped by metric.

The judge reads values per metric; the interval analysis cuts them by time. Rows come from a
CSV file (``nexus-ml release judge``), from an API body, or from the scenario generator. A
missing value (empty cell, ``NaN``) is kept as NaN so that the judge can count what it drops.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from nexus_ml.errors import InputError

FloatArray = npt.NDArray[np.float64]

CSV_COLUMNS = ("timestamp", "metric", "value")
MAX_METRIC_NAME = 120
_MISSING = frozenset({"", "nan", "NaN", "NAN", "null", "None", "NA"})


@dataclass(frozen=True)
class Series:
    """One metric's samples, oldest first: epoch seconds and values (NaN = missing)."""

    t: FloatArray
    v: FloatArray


@dataclass(frozen=True)
class MetricSamples:
    """Samples of every metric of one version (the baseline or the candidate)."""

    series: Mapping[str, Series]

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[float, str, float]]) -> MetricSamples:
        """Group ``(epoch seconds, metric, value)`` rows by metric, each sorted by time."""
        grouped: dict[str, tuple[list[float], list[float]]] = {}
        for t, metric, value in rows:
            times, values = grouped.setdefault(metric, ([], []))
            times.append(t)
            values.append(value)
        series = {}
        for metric, (times, values) in grouped.items():
            stamps = np.asarray(times, dtype=np.float64)
            order = np.argsort(stamps, kind="stable")
            series[metric] = Series(stamps[order], np.asarray(values, dtype=np.float64)[order])
        return cls(series)

    @property
    def metrics(self) -> list[str]:
        return sorted(self.series)

    def values(self, metric: str) -> FloatArray:
        """Values of ``metric`` (empty when absent), NaN included."""
        found = self.series.get(metric)
        return found.v if found is not None else np.empty(0)

    def __len__(self) -> int:
        return sum(len(s.t) for s in self.series.values())

    def span(self) -> tuple[float, float] | None:
        """First and last timestamps over every metric, or ``None`` when empty."""
        starts = [s.t[0] for s in self.series.values() if len(s.t)]
        ends = [s.t[-1] for s in self.series.values() if len(s.t)]
        return (min(starts), max(ends)) if starts else None

    def window(self, start: float, end: float) -> MetricSamples:
        """Samples with ``start <= t < end`` (epoch seconds)."""
        cut = {}
        for metric, s in self.series.items():
            lo, hi = np.searchsorted(s.t, [start, end], side="left")
            cut[metric] = Series(s.t[lo:hi], s.v[lo:hi])
        return MetricSamples(cut)

    def rows(self) -> Iterator[tuple[float, str, float]]:
        """Every sample as ``(epoch seconds, metric, value)``, metric by metric."""
        for metric in self.metrics:
            s = self.series[metric]
            for t, v in zip(s.t.tolist(), s.v.tolist(), strict=True):
                yield t, metric, v


def parse_timestamp(text: str) -> float:
    """Epoch seconds from ISO 8601 (naive = UTC) or a number of epoch seconds."""
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):
            raise ValueError("not a finite time")
        return number
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def parse_value(text: str) -> float:
    """A finite float, or NaN for an empty/missing cell; infinities are refused."""
    text = text.strip()
    if text in _MISSING:
        return math.nan
    value = float(text)
    if math.isinf(value):
        raise ValueError("infinite")
    return value


def check_metric_name(name: str) -> str:
    """``name`` stripped, if it is a usable metric name (raises ``ValueError`` otherwise)."""
    name = name.strip()
    if not name:
        raise ValueError("empty metric name")
    if len(name) > MAX_METRIC_NAME:
        raise ValueError(f"metric name longer than {MAX_METRIC_NAME} characters")
    return name


def read_samples_csv(path: Path) -> MetricSamples:
    """Read a ``timestamp,metric,value`` CSV file (a header row first).

    Raises
    ------
    InputError
        Naming the file, the row (line number), the column and the bad value.
    """
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    rows: list[tuple[float, str, float]] = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip().lower() for h in next(reader)]
        except StopIteration:
            raise InputError(
                f"{path}: empty file, expected a header {','.join(CSV_COLUMNS)}"
            ) from None
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: row 1: not readable as CSV ({exc})") from None
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise InputError(
                f"{path}: row 1: missing column(s) {', '.join(missing)}; "
                f"expected {','.join(CSV_COLUMNS)}, got {','.join(header)!r}"
            )
        index = {c: header.index(c) for c in CSV_COLUMNS}
        try:
            for record in reader:
                rows.append(_parse_record(path, reader.line_num, record, index))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(
                f"{path}: row {reader.line_num}: not readable as CSV ({exc})"
            ) from None
    if not rows:
        raise InputError(f"{path}: no samples after the header")
    return MetricSamples.from_rows(rows)


def _parse_record(
    path: Path, line: int, record: list[str], index: Mapping[str, int]
) -> tuple[float, str, float]:
    if len(record) < len(index):
        raise InputError(
            f"{path}: row {line}: expected {len(index)} columns, got {len(record)} ({record!r})"
        )
    parsers = {"timestamp": parse_timestamp, "metric": check_metric_name, "value": parse_value}
    parsed: dict[str, object] = {}
    for column, parse in parsers.items():
        raw = record[index[column]]
        try:
            parsed[column] = parse(raw)
        except ValueError as exc:
            raise InputError(
                f"{path}: row {line}, column {column}: bad value {raw!r} ({exc})"
            ) from None
    t, metric, value = parsed["timestamp"], parsed["metric"], parsed["value"]
    assert isinstance(t, float) and isinstance(metric, str) and isinstance(value, float)
    return t, metric, value


def write_samples_csv(samples: MetricSamples, path: Path) -> None:
    """Write ``samples`` as a ``timestamp,metric,value`` CSV (ISO 8601 UTC times)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for t, metric, v in samples.rows():
            stamp = datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")
            writer.writerow((stamp, metric, "" if math.isnan(v) else repr(v)))
