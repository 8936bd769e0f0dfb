"""Replay model v1: hand-computed physics, references, CSV round trip, causality, calibration."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from nexus_ml.catalog import ModuleProfile
from nexus_ml.cli.main import app
from nexus_ml.errors import InputError
from nexus_ml.evaluate.replay import (
    Observation,
    Policy,
    ReplayParams,
    ReplayResult,
    load_trace,
    make_policy,
    prepare_trace,
    replay,
    score_replay,
)
from nexus_ml.evaluate.replay.calibration import Calibration
from nexus_ml.evaluate.replay.physics import PreparedTrace
from nexus_ml.evaluate.replay.report import target_ratios
from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk
from nexus_ml.models.registry.store import ModelBundle
from tests.conftest import SharedData

HISTORY = 7 * 1440


def _series(values: np.ndarray, start: str = "2026-10-01") -> pd.Series:
    index = pd.date_range(start, periods=len(values), freq="1min", tz="UTC")
    return pd.Series(values, index=index, name="synthetic")


def _daily_trace(days: int = 8, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    minutes = np.arange(days * 1440)
    daily = 50 + 40 * np.sin(2 * np.pi * (minutes % 1440) / 1440 - np.pi / 2).clip(0)
    return _series(daily * rng.lognormal(0, 0.05, minutes.size))


class Instant:
    """Knows the present: target(t) = D_t. Used to check the start-up delay alone."""

    name = "instant"

    def reset(self, trace: PreparedTrace, *, initial_target: int) -> None:
        self.trace = trace

    def target(self, obs: Observation) -> int:
        return int(self.trace.demanded[obs.t])


def test_demand_step_costs_exactly_lead_time_minutes_to_an_instant_policy() -> None:
    params = ReplayParams()
    values = np.full(HISTORY + 100, 10.0)
    values[:HISTORY:97] = 30.0  # spikes in history fix capacity: q99 = 30
    values[HISTORY + 20 :] = 25.0  # the step, in the scored period
    trace = prepare_trace(_series(values), params)
    before, after = trace.demanded[HISTORY + 19], trace.demanded[HISTORY + 20]
    assert after > before
    metrics = score_replay(replay(trace, Instant()))
    assert metrics.tau_u * metrics.minutes / 100 == pytest.approx(params.startup_delay)


def test_decrease_takes_effect_at_once_and_cost_counts_starting_replicas() -> None:
    values = np.full(HISTORY + 10, 10.0)
    values[:HISTORY:50] = 30.0
    trace = prepare_trace(_series(values))
    result = replay(trace, Instant())
    assert (result.ready == trace.demanded[HISTORY:]).all()  # flat demand: no start-ups
    assert result.cost.sum() == trace.demanded[HISTORY:].sum()


def test_oracle_is_never_short_on_a_random_trace() -> None:
    rng = np.random.default_rng(7)
    values = rng.uniform(5, 50, HISTORY + 2000)
    trace = prepare_trace(_series(values))
    assert trace.demanded.max() <= trace.params.max_replicas  # servable by construction
    metrics = score_replay(replay(trace, make_policy("oracle")))
    assert metrics.tau_u == 0.0 and metrics.overload_minutes == 0


def test_capacity_follows_protocol() -> None:
    values = _daily_trace().to_numpy()
    trace = prepare_trace(_series(values))
    expected = np.quantile(values[:HISTORY], 0.99) / (0.70 * 6)
    assert trace.capacity == pytest.approx(expected)
    assert trace.demanded.min() >= 1


def test_seed_rule_adds_one_replica_after_five_hot_minutes() -> None:
    values = np.full(HISTORY + 30, 10.0)
    values[:HISTORY:60] = 42.0  # capacity c = 10, D(10) = 2, at 2 replicas u = 0.5
    values[HISTORY:] = 15.0  # u = 15 / (2 * 10) = 0.75 > 0.70
    trace = prepare_trace(_series(values))
    result = replay(trace, make_policy("seed_rule"))
    first_up = int(np.flatnonzero(result.targets > 2)[0])
    assert first_up == 5 and result.targets[first_up] == 3


def test_hpa_keeps_target_within_tolerance_and_scales_on_load() -> None:
    values = np.full(HISTORY + 30, 14.0)
    values[:HISTORY:60] = 42.0  # c = 10; 14 at 2 replicas: u = 0.70 exactly
    values[HISTORY + 10 :] = 28.0
    trace = prepare_trace(_series(values))
    result = replay(trace, make_policy("hpa"))
    assert (result.targets[:11] == 2).all()
    assert result.targets[11] == 4  # ceil(2 · 1.4 / 0.7)


def test_targets_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    series = _daily_trace()
    pd.DataFrame({"ts": series.index.astype("int64") // 10**9, "value": series.values}).to_csv(
        path, index=False
    )
    out = tmp_path / "targets.csv"
    result = CliRunner().invoke(app, ["replay", str(path), "--policy", "hpa", "--out", str(out)])
    assert result.exit_code == 0, result.output
    back = pd.read_csv(out)
    assert list(back.columns) == ["timestamp", "replicas"]
    assert len(back) == len(series) - HISTORY
    assert back["timestamp"].iloc[0] == series.index[HISTORY].strftime("%Y-%m-%dT%H:%M:%SZ")
    direct = replay(prepare_trace(load_trace(path)), make_policy("hpa"))
    assert (back["replicas"].to_numpy() == direct.targets).all()


def risk_only_champion(history: pd.Series, profile: ModuleProfile) -> ModelBundle:
    """A champion with the scaling risk model alone (fast): the policy's mechanics under test.
    The real training pipeline trains the champion in the slow test below."""
    lead = max(1, math.ceil(profile.startup_lead_time_s / 60))
    risk = LeadTimeRisk(lead_time=lead).fit(history)
    return ModelBundle(profile.name, "test", forecasters={}, detector=None, scaler=risk)


def nexus(**kw: float) -> Policy:
    from nexus_ml.evaluate.replay.nexus_policy import NexusPolicy

    return NexusPolicy(risk_only_champion, **kw)  # type: ignore[arg-type]


SEASONAL = _daily_trace(days=8, seed=5)


@pytest.fixture(scope="module")
def seasonal_nexus() -> ReplayResult:
    """Nexus over the seasonal trace's scored day: replayed once, read by three tests."""
    return replay(prepare_trace(SEASONAL), nexus())


def test_nexus_is_causal_prefix_of_a_longer_trace_gives_the_same_targets(
    seasonal_nexus: ReplayResult,
) -> None:
    short = replay(prepare_trace(SEASONAL.iloc[: HISTORY + 300]), nexus())
    assert (short.targets == seasonal_nexus.targets[:300]).all()


def test_nexus_beats_hpa_on_a_seasonal_trace(seasonal_nexus: ReplayResult) -> None:
    trace = prepare_trace(SEASONAL)
    ours = score_replay(seasonal_nexus)
    hpa = score_replay(replay(trace, make_policy("hpa")))
    oracle = score_replay(replay(trace, make_policy("oracle")))
    assert ours.tau_u < hpa.tau_u / 2
    assert ours.replica_hours < 1.25 * oracle.replica_hours


def test_nexus_never_flaps_a_scale_down_follows_no_change_within_the_stabilisation(
    seasonal_nexus: ReplayResult,
) -> None:
    from nexus_ml.decide.strategy import SCALE_DOWN_WINDOW

    targets = seasonal_nexus.targets
    changes = np.flatnonzero(np.diff(targets)) + 1
    assert changes.size > 4  # it had work to do
    for before, after in pairwise(changes):
        if targets[after] < targets[after - 1]:
            assert after - before >= SCALE_DOWN_WINDOW, (before, after)


def test_nexus_under_cost_trades_replica_hours_for_fewer_short_minutes() -> None:
    trace = prepare_trace(_daily_trace(days=8, seed=6))
    cheap = score_replay(replay(trace, nexus(under_cost=2.0)))
    careful = score_replay(replay(trace, nexus(under_cost=200.0)))
    assert careful.replica_hours > cheap.replica_hours
    assert careful.tau_u < cheap.tau_u


def test_nexus_needs_the_training_pipeline() -> None:
    with pytest.raises(InputError, match="champion trainer"):
        make_policy("nexus")


@pytest.mark.slow
def test_nexus_on_a_champion_from_the_real_training_pipeline() -> None:
    from pipelines.trace_champion import train_trace_champion

    trace = prepare_trace(_daily_trace(days=8, seed=7))
    policy = make_policy("nexus", champion_trainer=train_trace_champion)
    ours = score_replay(replay(trace, policy))
    hpa = score_replay(replay(trace, make_policy("hpa")))
    assert ours.tau_u < hpa.tau_u


def test_expected_calibration_error_by_hand() -> None:
    confidence = np.array([0.05, 0.05, 0.95, 0.95])
    outcome = np.array([0.0, 0.0, 1.0, 0.0])  # bin 0: freq 0 vs 0.05; bin 9: freq 0.5 vs 0.95
    cal = Calibration(confidence, outcome)
    assert cal.ece == pytest.approx((2 * 0.05 + 2 * 0.45) / 4)


def test_chance_ece_is_what_an_exact_confidence_shows_and_a_biased_one_exceeds() -> None:
    rng = np.random.default_rng(11)
    confidence = rng.uniform(0.02, 0.98, 800)
    exact = Calibration(confidence, (rng.random(800) < confidence).astype(float))
    mean, p95 = exact.chance_ece()
    assert 0 < mean < p95 < 0.1
    assert exact.ece < 2 * p95  # an exact confidence lands near the floor, not far above it
    biased = Calibration(confidence, (rng.random(800) < confidence**2).astype(float))
    assert biased.ece > 3 * biased.chance_ece()[1]
    assert math.isnan(Calibration(np.empty(0), np.empty(0)).chance_ece()[0])


def test_bad_inputs_exit_two(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["replay", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "cannot read trace" in missing.output
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    wrong = runner.invoke(app, ["replay", str(bad)])
    assert wrong.exit_code == 2 and "expected columns" in wrong.output
    short = tmp_path / "short.csv"
    short.write_text("ts,value\n0,1\n60,2\n")
    too_short = runner.invoke(app, ["replay", str(short), "--policy", "hpa"])
    assert too_short.exit_code == 2 and "history" in too_short.output
    unknown = runner.invoke(app, ["replay", str(short), "--policy", "magic"])
    assert unknown.exit_code == 2


def test_one_policy_summary_fits_an_80_column_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nexus_ml.cli import common

    series = _daily_trace(days=8)
    path = tmp_path / "daily.csv"
    seconds = series.index.asi8 // 10**9
    pd.DataFrame({"ts": seconds, "value": series.to_numpy()}).to_csv(path, index=False)
    monkeypatch.setattr(common.console, "width", 80)
    result = CliRunner().invoke(app, ["replay", str(path), "--policy", "hpa"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in result.output
    expected = score_replay(replay(prepare_trace(load_trace(path)), make_policy("hpa")))
    rows = {line.split()[1]: line.split()[3] for line in lines if line.startswith("│")}
    metrics = {k: v for k, v in expected.as_dict().items() if k != "policy"}
    assert rows == {name: f"{float(value):.2f}" for name, value in metrics.items()}


@pytest.mark.slow  # trains Nexus's champion on the trace through the real pipeline
@pytest.mark.shared_data
def test_report_over_real_traces(shared_data: SharedData, tmp_path: Path) -> None:
    folder = tmp_path / "traces"
    folder.mkdir()
    (folder / "input0.csv").write_bytes(shared_data.file("traces/crane/input0.csv").read_bytes())
    report = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["replay", "--all", str(folder), "--report", str(report)])
    assert result.exit_code == 0, result.output
    text = report.read_text()
    for policy in ("static_peak", "hpa", "seed_rule", "crane_ehpa", "oracle", "nexus"):
        assert policy in text
    assert "data:image/png;base64" in text and "ECE" in text


def test_the_issue_targets_are_ratios_to_the_references_of_the_same_run() -> None:
    def row(tau: float, overload: float, events: float, rh: float) -> dict[str, float]:
        return {
            "tau_u": tau,
            "overload_minutes_servable_total": overload,
            "scale_events": events,
            "replica_hours_vs_oracle": rh,
        }

    summary = {"nexus": row(2.0, 30.0, 45.0, 1.2), "hpa": row(8.0, 120.0, 90.0, 1.0)}
    assert target_ratios(summary) == {
        "tau_u_vs_hpa": 0.25,
        "overload_vs_hpa": 0.25,
        "replica_hours_vs_oracle": 1.2,
        "scale_events_vs_hpa": 0.5,
    }
    summary["hpa"] = row(8.0, 0.0, 0.0, 1.0)  # a reference that never overloads nor scales
    assert target_ratios(summary)["overload_vs_hpa"] == 30.0
    assert target_ratios(summary)["scale_events_vs_hpa"] == 45.0
