from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from nexus_ml.errors import InputError
from nexus_ml.ingest.timegrid import (
    PROMETHEUS_MAX_POINTS,
    Grid,
    aligned_grid,
    plan_chunks,
    stitch,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_grid_is_aligned_to_step_multiples_inside_the_range() -> None:
    grid = aligned_grid(
        T0 + timedelta(seconds=30), T0 + timedelta(minutes=10, seconds=59), timedelta(minutes=1)
    )
    assert grid.start % 60 == 0 and grid.end % 60 == 0
    assert grid.start == int((T0 + timedelta(minutes=1)).timestamp())  # ceil, never before start
    assert grid.end == int((T0 + timedelta(minutes=10)).timestamp())  # floor, never after end
    assert grid.points == 10


@pytest.mark.parametrize("step", [timedelta(0), timedelta(milliseconds=1500)])
def test_grid_rejects_fractional_or_zero_step(step: timedelta) -> None:
    with pytest.raises(InputError, match="step"):
        aligned_grid(T0, T0 + timedelta(hours=1), step)


def test_empty_range_is_refused() -> None:
    with pytest.raises(InputError, match="holds no"):
        aligned_grid(T0 + timedelta(seconds=10), T0 + timedelta(seconds=50), timedelta(minutes=1))


CHUNK_CASES = [
    (p, m)
    for p in (1, 2, 9_999, 10_000, 10_001, 20_161, 33_333)
    for m in (10_000, PROMETHEUS_MAX_POINTS)
] + [(1, 1), (5, 1), (100, 7), (700, 7)]


@pytest.mark.parametrize(("points", "max_points"), CHUNK_CASES)
def test_chunks_cover_the_grid_once_under_the_limit(points: int, max_points: int) -> None:
    grid = Grid(600, 600 + (points - 1) * 60, 60)
    chunks = plan_chunks(grid, max_points)
    assert all(c.points <= max_points for c in chunks)
    assert all(c.step == 60 and c.start % 60 == 0 for c in chunks)
    joined = np.concatenate([c.seconds() for c in chunks])
    np.testing.assert_array_equal(joined, grid.seconds())  # every instant once, in order


def test_chunk_size_above_prometheus_limit_is_refused() -> None:
    with pytest.raises(InputError, match="11000"):
        plan_chunks(Grid(0, 60 * 20_000, 60), PROMETHEUS_MAX_POINTS + 1)


def test_stitch_places_pieces_drops_duplicates_and_off_grid_points() -> None:
    grid = Grid(0, 540, 60)  # 10 instants
    a = (np.array([0, 60, 120, 180]), np.array([0.0, 1.0, 2.0, 3.0]))
    b = (np.array([180, 240, 250, 300]), np.array([99.0, 4.0, 42.0, 5.0]))  # 180 again, 250 off
    c = (np.array([600, 420, 420]), np.array([1.0, 7.0, 8.0]))  # after the end; dup in piece
    values, dups = stitch([a, b, c], grid)
    expected = [0, 1, 2, 3, 4, 5, np.nan, 7, np.nan, np.nan]
    np.testing.assert_array_equal(values, expected)
    assert dups == 2  # 180 delivered twice, 420 twice
