"""Calibration of anomaly views by their own past: scale-free ratios, batch = row by row."""

from __future__ import annotations

import numpy as np

from nexus_ml.models.anomaly.calibration import REFRESH_ROWS, Calibration


def _calibration(span: int, quantile: float, floor: float, views: int = 1) -> Calibration:
    return Calibration(span=span, quantile=quantile, floors=np.full(views, floor), min_rows=20)


def test_a_spiky_series_needs_a_larger_value_to_stand_out() -> None:
    rng = np.random.default_rng(2)
    calm = np.abs(rng.normal(0, 1, (512, 1)))
    spiky = calm.copy()
    spiky[::10] = 12.0  # 10 % of rows reach 12: a 12 is routine here
    for history in (calm, spiky):
        history[-1] = 12.0
    cal = _calibration(400, 0.95, 6.0)
    calm_ratio, _ = cal.ratios(calm, 1, first_row=0)
    spiky_ratio, _ = cal.ratios(spiky, 1, first_row=0)
    assert calm_ratio[0, 0] == 2.0  # judged against the floor
    assert spiky_ratio[0, 0] <= 1.0  # judged against its own 95th percentile


def test_no_ratio_before_enough_history() -> None:
    ratios, _ = _calibration(100, 0.9, 1.0).ratios(np.full((40, 1), 5.0), 40, first_row=0)
    # Blocks start at rows 0, 16, 32: the first two have fewer than 20 earlier values.
    assert np.all(ratios[:32] == 0)
    assert np.all(ratios[32:] == 1.0)  # 5 over the quantile of earlier 5s


def test_row_by_row_with_the_cached_level_equals_one_batch() -> None:
    rng = np.random.default_rng(3)
    history = np.abs(rng.standard_t(3, (300, 2)))
    cal = _calibration(150, 0.9, 0.5, views=2)
    batch, _ = cal.ratios(history, 100, first_row=0)
    rows, cached = [], None
    for i in range(100):
        end = 201 + i
        kept = history[max(0, end - 1 - cal.memory) : end]  # what a stream keeps
        one, cached = cal.ratios(kept, 1, first_row=end - len(kept), cached=cached)
        rows.append(one)
    np.testing.assert_allclose(np.vstack(rows), batch)


def test_level_is_the_quantile_before_the_block_start() -> None:
    rng = np.random.default_rng(4)
    history = np.abs(rng.normal(0, 1, (200, 1))) + 1.0
    cal = _calibration(50, 0.8, 0.1)
    ratios, _ = cal.ratios(history, 40, first_row=1000)
    for k, t in enumerate(range(160, 200)):
        block = 1000 + t - (1000 + t) % REFRESH_ROWS - 1000
        level = np.quantile(history[block - 50 : block, 0], 0.8)
        assert np.isclose(ratios[k, 0], history[t, 0] / level)
