"""Precision of the seed's rules (no champion) on simulated incidents: the rule confidences.

Runs ``nexus_ml/evaluate/rule_precision.py``'s measurement (see its docstring for the method) on
the design seed and prints, per action, the firings, the right ones, the precision and the
lower end of its Wilson 95 % interval. The rule confidences in ``nexus_ml/decide/health.py``
and ``nexus_ml/decide/rules.py`` are these lower ends (rounded down); the test
``tests/decide/test_rule_precision.py`` checks them on a held-out seed. Writes
``bench/results/rule_precision.json``.

    .venv/bin/python bench/bench_rule_precision.py [--per-kind 30] [--seed 101]
        [--kinds latency_degradation,memory_leak,bad_release] [--detector]

It also prints, per incident kind, how many cases were answered while the incident was active
(acted on or told to an operator; a surge scaled up) and the median minutes to that answer.
``--detector`` runs the policy in model mode (each module's anomaly detector fitted on 8
simulated days, its scores given to the policy as the service gives them) and also counts the
early warnings; it writes ``bench/results/rule_precision_detector.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

from nexus_ml.catalog import load_catalog
from nexus_ml.domain.decision import Action
from nexus_ml.evaluate.rule_precision import KINDS, Tally, fit_detectors, measure, wilson_lower
from nexus_ml.sim.incidents import LatencyDegradation

ROOT = Path(__file__).resolve().parents[1]

DESIGN_SEED = 101  # the seed looked at while choosing; the test uses another one
BEFORE_CRASH = 1.0 - LatencyDegradation.crash_fraction


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=30)
    parser.add_argument("--kinds", default=",".join(KINDS), help="incident kinds, comma-separated")
    parser.add_argument("--seed", type=int, default=DESIGN_SEED)
    parser.add_argument("--detector", action="store_true", help="model mode (anomaly scores)")
    args = parser.parse_args()
    started = time.perf_counter()
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"--kinds: unknown {', '.join(unknown)} (known: {', '.join(KINDS)})")
    detectors = fit_detectors(load_catalog()) if args.detector else None
    tally = measure(args.seed, args.per_kind, kinds=kinds, detectors=detectors)
    seconds = time.perf_counter() - started
    rows = {}
    for action in (Action.RESTART, Action.SCALE_DOWN, Action.SCALE_UP):
        fired, right = tally.fired[action], tally.right[action]
        rows[action.value] = {
            "fired": fired,
            "right": right,
            "precision": round(tally.precision(action), 4),
            "wilson_lower_95": round(wilson_lower(right, fired), 4),
        }
    racing = tally.racing_restarts
    restart = tally.fired[Action.RESTART] - racing
    rows["restart_outside_first_minutes_of_a_deploy"] = {
        "fired": restart,
        "right": tally.right[Action.RESTART],
        "precision": round(tally.right[Action.RESTART] / restart, 4) if restart else None,
        "wilson_lower_95": round(wilson_lower(tally.right[Action.RESTART], restart), 4),
    }
    result = {
        "seed": args.seed,
        "kinds": kinds,
        "cases": args.per_kind * len(kinds),
        "seconds": round(seconds, 1),
        "rules": rows,
        "wrong_restarts_by_incident": tally.wrong_restarts,
        "restarts_racing_the_canary": racing,
        "memory_restarts": {
            "fired": tally.memory_restarts,
            "right": tally.memory_restarts_right,
            "wilson_lower_95": round(
                wilson_lower(tally.memory_restarts_right, tally.memory_restarts), 4
            ),
        },
        "alerts": {
            kind: {"fired": tally.alerts[kind], "right": tally.alerts_right[kind]}
            for kind in tally.alerts
        },
        "incidents_answered": {kind: _answered(tally, kind) for kind in kinds},
    }
    print(json.dumps(result, indent=2))
    name = "rule_precision_detector" if detectors is not None else "rule_precision"
    out = ROOT / "bench" / "results" / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


def _answered(tally: Tally, kind: str) -> dict[str, Any]:
    """How often, how soon and how far into the incident the cases of ``kind`` were answered."""
    row: dict[str, Any] = {
        "cases": tally.cases.get(kind, 0),
        "absorbed_no_answer_needed": tally.absorbed.get(kind, 0),
        "answered": len(tally.answered_after.get(kind, [])),
        "recall": round(tally.recall(kind), 4),
        "median_minutes_to_answer": (
            float(statistics.median(tally.answered_after[kind]))
            if tally.answered_after.get(kind)
            else None
        ),
        "median_share_of_incident_gone": (
            round(float(statistics.median(tally.answered_at_share[kind])), 3)
            if tally.answered_at_share.get(kind)
            else None
        ),
    }
    if kind == "latency_degradation":  # its last 5 % is the crash (sim.incidents)
        row["answered_before_crash"] = tally.answered_before(kind, BEFORE_CRASH)
    return row


if __name__ == "__main__":
    main()
