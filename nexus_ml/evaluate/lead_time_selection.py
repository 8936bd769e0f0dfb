"""Out-of-sample check and out-of-fold choice of the lead-time risk model's settings.

The decision core reads two predictive distributions of
:class:`~nexus_ml.models.forecast.lead_time_risk.LeadTimeRisk`: the peak demand over the next
L + 1 steps (``window``) and the demand at the step a replica started now is ready (``ready``).
It reads them at two quantile levels (:data:`DECISION_LEVELS`): the median (the strategy never
provisions below the median peak) and ``1 − 1/under_cost`` (the break-even: one more replica
pays when the risk it removes is above ``1/under_cost``; 0.95 with the default cost of 20),
which is also the level of the upper bound shown to operators.

The check is the one the forecaster's intervals get: each trace is streamed once per candidate
setting, causally (the model is fitted on a warm-up, then fed one observation at a time and
asked at every origin for its quantiles before the outcome is known). Per level we keep whether
the outcome fell at or below the predicted quantile (its coverage should equal the level) and
the pinball loss (a proper score: lowest in expectation for the true quantile).

Settings are chosen leave-one-trace-out by a stated rule (:func:`choose_setting`): the
candidate with the lowest mean pinball loss at the decision levels, both distributions, on the
other traces, each trace's loss divided by its mean absolute one-step change so that traces of
different units weigh alike. Coverage is then reported out of fold (each trace under the
setting chosen without it) next to the in-sample choice. See ``docs/model-selection.md``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nexus_ml.decide.strategy import break_even_confidence
from nexus_ml.errors import InputError
from nexus_ml.models.forecast.lead_time import LeadTimeQuantileForecaster

#: Quantile levels the decision core reads: the median peak floor and the break-even level.
DECISION_LEVELS: tuple[float, ...] = (0.5, round(1.0 - break_even_confidence(), 6))
#: Levels of the reliability table (the decision levels among them).
RELIABILITY_LEVELS: tuple[float, ...] = tuple(sorted({0.5, 0.8, 0.9, 0.95, 0.98, *DECISION_LEVELS}))
#: The two distributions of :class:`LeadTimeRisk`, by the first step ahead their peak starts at
#: (``None``: the ready step, L + 1).
MODELS: dict[str, int | None] = {"window": 1, "ready": None}

#: Candidate settings: how many past errors the conformal quantiles are taken over (half a day,
#: a day, three days at 1-minute steps) and how many one-step changes set the spread's scale.
LEAD_TIME_CANDIDATES: dict[str, dict[str, Any]] = {
    f"calib={calib} vol={vol}": {"calib_window": calib, "vol_window": vol}
    for calib in (720, 1440, 4320)
    for vol in (30, 120)
}


@dataclass(frozen=True)
class StreamResult:
    """One distribution of one candidate streamed over one trace.

    Attributes
    ----------
    covered : numpy.ndarray
        ``(origins, levels)``: the outcome was at or below the predicted quantile.
    pinball : numpy.ndarray
        ``(origins, levels)``: pinball loss of each quantile, in the trace's units.
    seconds : float
        Time spent in updates and predictions.
    """

    covered: np.ndarray
    pinball: np.ndarray
    seconds: float


def one_step_scale(y: np.ndarray) -> float:
    """Mean absolute one-step change of ``y`` (the unit losses are compared in)."""
    scale = float(np.mean(np.abs(np.diff(y)))) if y.size > 1 else 0.0
    return scale if scale > 0 else 1.0


def stream_quantiles(
    y: np.ndarray,
    params: Mapping[str, Any],
    *,
    lead_time: int,
    warmup: int,
    season: int = 1440,
    levels: Sequence[float] = RELIABILITY_LEVELS,
) -> dict[str, StreamResult]:
    """Stream ``y`` through both distributions of a candidate, causally.

    The models are fitted on ``y[:warmup]``; at each origin t ≥ ``warmup`` they have seen
    ``y[:t]`` and their quantiles are compared with ``max(y[t : t + L + 1])`` (window) and
    ``y[t + L]`` (ready) before ``y[t]`` is fed to them.

    Raises
    ------
    InputError
        ``warmup`` outside the series or leaving no origin to score.
    """
    y = np.asarray(y, dtype=float)
    last = y.size - lead_time - 1  # the last origin whose outcome is in the series
    if warmup < 1 or warmup > last:
        raise InputError(
            f"warmup must be in [1, {last}] for {y.size} values and lead time {lead_time}, "
            f"got {warmup!r}"
        )
    qs = np.asarray(levels, dtype=float)
    origins = np.arange(warmup, last + 1)
    windows = np.lib.stride_tricks.sliding_window_view(y, lead_time + 1)[origins]
    outcomes = {"window": windows.max(axis=1), "ready": windows[:, -1]}
    models: dict[str, LeadTimeQuantileForecaster] = {}
    seconds = dict.fromkeys(MODELS, 0.0)
    for name, first in MODELS.items():
        started = time.perf_counter()
        models[name] = LeadTimeQuantileForecaster(
            lead_time=lead_time,
            season=season,
            first_step=lead_time + 1 if first is None else first,
            **params,
        ).fit(y[:warmup])
        seconds[name] += time.perf_counter() - started
    upper = {name: np.empty((origins.size, qs.size)) for name in MODELS}
    for i, t in enumerate(origins):
        for name, model in models.items():
            started = time.perf_counter()
            if i:
                model.update((y[t - 1],))
            upper[name][i] = [model.predict_upper(float(q)) for q in qs]
            seconds[name] += time.perf_counter() - started
    out = {}
    for name in MODELS:
        miss = outcomes[name][:, None] - upper[name]
        out[name] = StreamResult(
            covered=miss <= 0,
            pinball=np.where(miss > 0, qs * miss, (qs - 1.0) * miss),
            seconds=seconds[name],
        )
    return out


def run_candidates(
    series: Mapping[str, np.ndarray],
    candidates: Mapping[str, Mapping[str, Any]],
    *,
    lead_time: int,
    warmup: int,
    season: int = 1440,
) -> dict[str, dict[str, dict[str, StreamResult]]]:
    """``runs[trace][candidate][model]``: every candidate streamed once over every trace."""
    return {
        name: {
            key: stream_quantiles(y, params, lead_time=lead_time, warmup=warmup, season=season)
            for key, params in candidates.items()
        }
        for name, y in series.items()
    }


def selection_loss(
    result: Mapping[str, StreamResult],
    scale: float,
    levels: Sequence[float] = RELIABILITY_LEVELS,
) -> float:
    """Mean pinball loss at :data:`DECISION_LEVELS` over both distributions, per unit of
    ``scale``."""
    cols = [list(levels).index(q) for q in DECISION_LEVELS]
    return float(np.mean([r.pinball[:, cols].mean() for r in result.values()]) / scale)


def choose_setting(
    runs: Mapping[str, Mapping[str, Mapping[str, StreamResult]]],
    scales: Mapping[str, float],
    names: Sequence[str],
) -> str:
    """The candidate with the lowest mean :func:`selection_loss` over the traces ``names``
    (ties: the first candidate listed)."""
    if not names:
        raise InputError("choose_setting needs at least one trace")
    keys = list(runs[names[0]])
    return min(
        keys, key=lambda k: float(np.mean([selection_loss(runs[n][k], scales[n]) for n in names]))
    )


def _coverage(results: Sequence[StreamResult]) -> list[float]:
    pooled = np.concatenate([r.covered for r in results]).mean(axis=0)
    return [float(v) for v in pooled]


def leave_one_trace_out(
    runs: Mapping[str, Mapping[str, Mapping[str, StreamResult]]],
    scales: Mapping[str, float],
    levels: Sequence[float] = RELIABILITY_LEVELS,
) -> dict[str, Any]:
    """The out-of-fold choice per held-out trace and the coverage it gives, per model and
    level, next to the in-sample choice (the one made with every trace)."""
    traces = sorted(runs)
    if len(traces) < 2:
        raise InputError(f"leave-one-trace-out needs two or more traces, got {len(traces)}")
    folds = {
        held: choose_setting(runs, scales, [t for t in traces if t != held]) for held in traces
    }
    in_sample = choose_setting(runs, scales, traces)
    keys = list(runs[traces[0]])
    return {
        "levels": list(levels),
        "decision_levels": list(DECISION_LEVELS),
        "folds": folds,
        "in_sample_choice": in_sample,
        "coverage_out_of_fold": {
            m: _coverage([runs[t][folds[t]][m] for t in traces]) for m in MODELS
        },
        "coverage_in_sample": {
            m: _coverage([runs[t][in_sample][m] for t in traces]) for m in MODELS
        },
        "coverage_out_of_fold_by_trace": {
            t: {m: _coverage([runs[t][folds[t]][m]]) for m in MODELS} for t in traces
        },
        "loss_by_candidate": {
            k: float(np.mean([selection_loss(runs[t][k], scales[t]) for t in traces])) for k in keys
        },
        "coverage_by_candidate": {
            k: {m: _coverage([runs[t][k][m] for t in traces]) for m in MODELS} for k in keys
        },
    }
