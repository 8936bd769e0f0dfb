"""Reading metric samples from CSV: good files, and bad ones named by file, row, column, value."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from nexus_ml.errors import InputError
from nexus_ml.release.samples import read_samples_csv

from .helpers import samples, write_csv


def test_round_trip_keeps_values_and_missing_ones(tmp_path: Path) -> None:
    original = samples(1, n=10, latency_nan_every=3)
    back = read_samples_csv(write_csv(tmp_path / "s.csv", original))
    assert back.metrics == original.metrics
    for m in original.metrics:
        a, b = original.values(m), back.values(m)
        assert [math.isnan(x) for x in a] == [math.isnan(x) for x in b]
        assert [x for x in a if not math.isnan(x)] == pytest.approx(
            [x for x in b if not math.isnan(x)]
        )


def test_epoch_seconds_iso_times_and_empty_values(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "metric,timestamp,value\n"
        "latency_ms,1790000000,120.5\n"
        "latency_ms,2026-11-30T14:00:15Z,\n"
        "latency_ms,2026-11-30T14:00:30,NaN\n"
    )
    data = read_samples_csv(path)
    values = data.values("latency_ms")
    assert values[0] == 120.5 and math.isnan(values[1]) and math.isnan(values[2])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty file"),
        ("time,metric,value\n1,a,2\n", "row 1: missing column(s) timestamp"),
        (
            "timestamp,metric,value\n1,latency_ms,12\n2,latency_ms,abc\n",
            "row 3, column value: bad value 'abc'",
        ),
        (
            "timestamp,metric,value\nyesterday,latency_ms,12\n",
            "row 2, column timestamp: bad value 'yesterday'",
        ),
        ("timestamp,metric,value\n1, ,12\n", "row 2, column metric"),
        ("timestamp,metric,value\n1,latency_ms,inf\n", "row 2, column value: bad value 'inf'"),
        ("timestamp,metric,value\n1,latency_ms\n", "row 2: expected 3 columns, got 2"),
        ("timestamp,metric,value\n", "no samples"),
    ],
)
def test_bad_files_name_the_row_column_and_value(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_samples_csv(path)
    assert str(path) in str(err.value)
    assert expected in str(err.value)


def test_missing_file_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        read_samples_csv(tmp_path / "nope.csv")


def test_window_cuts_by_time() -> None:
    data = samples(2, n=20)
    start, _ = data.span() or (0.0, 0.0)
    cut = data.window(start, start + 15 * 5)
    assert len(cut.values("latency_ms")) == 5
