"""The robust-z view: trailing median/MAD z-scores."""

from __future__ import annotations

import numpy as np
import pytest

from nexus_ml.models.anomaly.robust import MIN_ROWS, trailing_robust_z


def test_trailing_robust_z_ignores_earlier_outliers_and_is_causal() -> None:
    rng = np.random.default_rng(1)
    z = rng.normal(0, 1, (300, 1))
    z[100:140:4, 0] += 50.0  # a burst of outliers in the trailing window
    z[150, 0] += 8.0
    out = trailing_robust_z(z, 0, 100, 0.1)
    assert out.shape == (300, 1)
    assert np.all(out[:MIN_ROWS] == 0)
    # 10 % contamination barely moves median and MAD: the next 8-sigma point still stands out.
    assert out[150, 0] > 5.0
    changed = z.copy()
    changed[200:] += 100.0
    np.testing.assert_array_equal(trailing_robust_z(changed, 0, 100, 0.1)[:200], out[:200])
    np.testing.assert_allclose(trailing_robust_z(z, 120, 100, 0.1), out[120:])


def test_floor_of_the_local_scale_bounds_z_on_a_flat_stretch() -> None:
    z = np.zeros((50, 1))
    z[40, 0] = 3.0
    assert trailing_robust_z(z, 0, 20, 1.0)[40, 0] == 3.0


def _brute_force_robust_z(z: np.ndarray, start: int, window: int, min_scale: float) -> np.ndarray:
    """The definition, one row at a time: nan-aware median/MAD of the rows before ``t``."""
    out = np.zeros((len(z) - start, z.shape[1]))
    for t in range(max(start, MIN_ROWS), len(z)):
        past = z[max(0, t - window) : t]
        med = np.nanmedian(past, axis=0)
        mad = np.nanmedian(np.abs(past - med), axis=0) * 1.4826
        out[t - start] = np.abs(z[t] - med) / np.maximum(mad, min_scale)
    return out


@pytest.mark.parametrize(("start", "window"), [(0, 30), (25, 30), (60, 30), (0, 500), (119, 7)])
def test_trailing_robust_z_equals_its_row_by_row_definition(start: int, window: int) -> None:
    rng = np.random.default_rng(4)
    z = rng.standard_t(3, (120, 3))
    z[50:60, 1] = 0.0  # flat stretch: the scale floor decides
    z[70, 2] = np.nan  # a column with a gap takes the nan-aware path on every row
    fast = trailing_robust_z(z, start, window, 0.5)
    np.testing.assert_allclose(fast, _brute_force_robust_z(z, start, window, 0.5), rtol=1e-12)


def test_online_robust_z_row_by_row_equals_one_batch() -> None:
    rng = np.random.default_rng(5)
    z = rng.normal(0, 1, (400, 2))
    batch = trailing_robust_z(z, 200, 100, 1.0)
    # Online, each call sees only the kept tail of the history and one new row.
    rows = [trailing_robust_z(z[t - 150 : t + 1], 150, 100, 1.0) for t in range(200, 400)]
    np.testing.assert_array_equal(np.vstack(rows), batch)
