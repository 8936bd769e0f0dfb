"""Issue 19: a replay trace is bounded in rows and span before anything its size is allocated;
any CSV gives a series or an InputError, nothing else."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexus_ml.errors import InputError
from nexus_ml.evaluate.replay import trace
from nexus_ml.evaluate.replay.trace import load_trace

_CELL = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "NaT", "nan", "1970-01-01", "2200-01-01T00:00Z", "1e400", "x", '"']),
)


@given(
    header=st.sampled_from(["ts,value", "TimeStamp,Value,Label", "a,b", "", "ts"]),
    rows=st.lists(st.tuples(_CELL, _CELL), max_size=6),
)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_csv_is_a_bounded_series_or_an_input_error(
    tmp_path_factory: pytest.TempPathFactory, header: str, rows: list[tuple[str, str]]
) -> None:
    path = tmp_path_factory.mktemp("trace") / "t.csv"
    path.write_text("\n".join([header, *(f"{a},{b}" for a, b in rows)]) + "\n")
    tracemalloc.start()
    try:
        series = load_trace(path)
    except InputError:
        return
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert peak < 200 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
    assert isinstance(series, pd.Series) and len(series) <= trace.MAX_STEPS + 1


def test_two_rows_spanning_two_centuries_are_refused_at_once(tmp_path: Path) -> None:
    path = tmp_path / "span.csv"
    path.write_text("ts,value\n0,1\n7258118400,2\n")
    tracemalloc.start()
    with pytest.raises(InputError, match="spans"):
        load_trace(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 50 * 1024 * 1024  # it was ~5 GB before MemoryError


def test_rows_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trace, "MAX_ROWS", 100)
    path = tmp_path / "rows.csv"
    path.write_text("ts,value\n" + "".join(f"{60 * i},{i}\n" for i in range(500)))
    with pytest.raises(InputError, match="more than 100 rows"):
        load_trace(path)
