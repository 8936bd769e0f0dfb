"""The promotion gate and the backtest it relies on, without MLflow."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nexus_ml.errors import ConfigError, InputError
from nexus_ml.models.training.backtest import SeriesScore, make_window, score_forecaster
from nexus_ml.models.training.promotion import GateConfig, judge

EMPTY = pd.DataFrame()


def score(
    mase: float, coverage: float = 0.8, *, finite: bool = True, ordered: bool = True
) -> SeriesScore:
    return SeriesScore(mase, coverage, 1.0, finite, ordered, 100, EMPTY)


def test_first_model_is_promoted_when_sane() -> None:
    verdict = judge({"cpu_usage": score(0.9)}, None, GateConfig())
    assert verdict.promoted and verdict.reason == "no champion yet"


@pytest.mark.parametrize(
    ("challenger", "detector_ok", "reason"),
    [
        (score(0.5, finite=False), True, "non-finite forecasts for cpu_usage"),
        (score(0.5, ordered=False), True, "intervals not ordered"),
        (score(0.5, coverage=0.3), True, "coverage 0.300 outside [0.5, 0.99]"),
        (score(0.5, coverage=1.0), True, "coverage 1.000 outside"),
        (score(0.5), False, "anomaly scores"),
    ],
)
def test_sanity_failures_keep_a_better_model_a_challenger(
    challenger: SeriesScore, detector_ok: bool, reason: str
) -> None:
    verdict = judge(
        {"cpu_usage": challenger}, {"cpu_usage": score(2.0)}, GateConfig(), detector_ok=detector_ok
    )
    assert not verdict.promoted
    assert reason in verdict.reason
    assert verdict.champion_mase == 2.0  # still reported, for the run's metrics


@pytest.mark.parametrize(
    ("challenger", "champion", "promoted"),
    [(0.97, 1.0, True), (0.98, 1.0, True), (0.99, 1.0, False), (1.2, 1.0, False)],
)
def test_margin(challenger: float, champion: float, promoted: bool) -> None:
    verdict = judge({"f": score(challenger)}, {"f": score(champion)}, GateConfig(margin=0.02))
    assert verdict.promoted is promoted
    if not promoted:
        assert "does not beat champion" in verdict.reason and "needs <= 0.9800" in verdict.reason


def test_only_shared_fields_are_compared() -> None:
    challenger = {"a": score(1.0), "b": score(10.0)}
    verdict = judge(challenger, {"a": score(2.0)}, GateConfig())
    assert verdict.promoted and verdict.champion_mase == 2.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"margin": 1.0}, "margin must be in"), ({"coverage_bounds": (0.9, 0.5)}, "coverage bounds")],
)
def test_bad_gate_config_quotes_the_value(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        GateConfig(**kwargs)  # type: ignore[arg-type]


class _LastValue:
    """Forecasts the last context value with a ±1 interval (a model whose errors we know)."""

    def predict(self, horizon: int, *, levels: tuple[int, ...], context: pd.Series) -> pd.DataFrame:
        start = context.index[-1] + (context.index[1] - context.index[0])
        ds = pd.date_range(start, periods=horizon, freq=context.index[1] - context.index[0])
        last = float(context.iloc[-1])
        return pd.DataFrame(
            {"unique_id": "y", "ds": ds, "mean": last, "lo-80": last - 1, "hi-80": last + 1}
        )


def test_backtest_scores_each_origin_on_data_it_has_not_seen() -> None:
    idx = pd.date_range("2026-01-01", periods=4 * 24, freq="h", tz="UTC")
    y = pd.Series(np.arange(len(idx), dtype=float), index=idx, name="y")  # a ramp: +1 per step
    window = make_window(y, backtest_steps=24, origin_every=6, horizon=3, season=24)

    assert [o.hour for o in window.origins] == [0, 6, 12, 18]
    assert window.scale == 24.0  # seasonal naive error of a ramp: one season of increments
    result = score_forecaster(_LastValue(), y, window)
    # Errors 1, 2, 3 at each origin: mean 2, scaled by 24; only the 1-step forecast is inside.
    assert result.mase == pytest.approx(2 / 24)
    assert result.coverage == pytest.approx(1 / 3)
    assert result.finite and result.ordered and result.points == 12
    assert set(result.forecasts["origin"]) == set(window.origins)


def test_backtest_needs_two_seasons_before_the_window() -> None:
    idx = pd.date_range("2026-01-01", periods=40, freq="h", tz="UTC")
    with pytest.raises(InputError, match="too few"):
        make_window(
            pd.Series(1.0, index=idx, name="y"),
            backtest_steps=24,
            origin_every=6,
            horizon=3,
            season=24,
        )


def test_non_finite_forecasts_score_infinite() -> None:
    class Broken(_LastValue):
        def predict(
            self, horizon: int, *, levels: tuple[int, ...], context: pd.Series
        ) -> pd.DataFrame:
            return super().predict(horizon, levels=levels, context=context).assign(mean=math.nan)

    idx = pd.date_range("2026-01-01", periods=72, freq="h", tz="UTC")
    y = pd.Series(np.sin(np.arange(72)), index=idx, name="y")
    result = score_forecaster(
        Broken(), y, make_window(y, backtest_steps=12, origin_every=6, horizon=3, season=24)
    )
    assert not result.finite and math.isinf(result.mase)
