"""Incident reports: how often the probable cause matches the incident actually injected.

For ``PER_KIND`` random incidents of each kind (random module, start hour, duration, magnitude
and simulator seed) the bench simulates 9 days, collects the incident as an operator would
(the error type they would file; two kinds are misfiled under the wrong type on purpose) and
compares the report's cause code with the truth:

- nexus: the collection as shipped (normal = the same window 7 days earlier);
- reference "before only": the same rules with ``reference_days=0`` (normal = the hours just
  before the incident), the usual "compare with before" of incident tooling.

Also times collect + build report + Markdown. Prints a table and writes
``bench/results/crisis.json``.

Held-out seed (issue 17): the cause rules' thresholds (:mod:`nexus_ml.crisis.cause`) were written
while looking at seed 7 and the tests' fixed simulations. The default seed of this bench,
``20261205``, was chosen for issue 17 before its run and never used to adjust any rule: its
figures are out-of-sample (see ``HELD_OUT_SEED`` for the one change made after a first held-out
seed, and why). ``--seed 7`` reproduces the development figures.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from nexus_ml.catalog import load_catalog
from nexus_ml.crisis import (
    build_report,
    collect_incident,
    load_collection_plans,
    render_markdown,
)
from nexus_ml.crisis.rules import load_rules
from nexus_ml.domain.crisis import ErrorType
from nexus_ml.execute.audit import AuditEntry, MemoryAudit
from nexus_ml.ingest import FrameSource
from nexus_ml.sim import (
    BadRelease,
    DemandSurge,
    ErrorBurst,
    Incident,
    LatencyDegradation,
    MemoryLeak,
    SlowDependency,
    simulate_history,
)

ROOT = Path(__file__).resolve().parents[1]

PER_KIND = 12
T0 = datetime(2026, 3, 2, tzinfo=UTC)
DAYS = 9.0
OUT = ROOT / "bench" / "results" / "crisis.json"
MODULES = ("nexus-crm", "nexus-agendamento", "nexus-user-management")
H = timedelta(hours=1)

Make = Callable[[np.random.Generator, str, datetime], Incident]

#: kind → (incident factory, error type an operator files, expected cause code)
KINDS: dict[str, tuple[Make, ErrorType, str]] = {
    "memory leak": (
        lambda r, m, s: MemoryLeak(module=m, start=s, duration=r.uniform(2, 8) * H,
                                   magnitude=r.uniform(0.2, 0.5)),
        ErrorType.MEMORY_LEAK, "memory_leak",
    ),
    "demand surge": (
        lambda r, m, s: DemandSurge(module=m, start=s, duration=r.uniform(1, 3) * H,
                                    magnitude=r.uniform(1.0, 3.0)),
        ErrorType.PERFORMANCE_DEGRADATION, "demand_surge",
    ),
    "bad release": (
        lambda r, m, s: BadRelease(module=m, start=s, duration=r.uniform(0.5, 2) * H,
                                   magnitude=r.uniform(0.5, 2.0)),
        ErrorType.ERROR_BURST, "bad_release",
    ),
    "error burst": (
        lambda r, m, s: ErrorBurst(module=m, start=s, duration=r.uniform(0.5, 2) * H,
                                   magnitude=r.uniform(0.05, 0.3)),
        ErrorType.ERROR_BURST, "error_burst",
    ),
    "slow dependency": (
        lambda r, m, s: SlowDependency(module=m, start=s, duration=r.uniform(1, 3) * H,
                                       magnitude=r.uniform(100, 500),
                                       target="nexus-user-management"),
        ErrorType.SLOW_DEPENDENCY, "slow_dependency",
    ),
    "degradation → crash": (
        lambda r, m, s: LatencyDegradation(module=m, start=s, duration=r.uniform(2, 6) * H,
                                           magnitude=r.uniform(2.0, 6.0)),
        ErrorType.CRASH, "progressive_degradation",
    ),
}  # fmt: skip
# The seed's error types (issue 17) use the collection plan their rule names.
_RULES = load_rules()
KINDS["payment errors (burst)"] = (
    KINDS["error burst"][0], _RULES.for_type("PAYMENT_FAILURE").plan, "error_burst",
)  # fmt: skip
KINDS["integration break (slow dep.)"] = (
    KINDS["slow dependency"][0], _RULES.for_type("INTEGRATION_BREAK").plan, "slow_dependency",
)  # fmt: skip
# A small leak (5-20 % of the limit): near the rule's 10 % threshold, some must be missed.
KINDS["weak memory leak"] = (
    lambda r, m, s: MemoryLeak(module=m, start=s, duration=r.uniform(2, 8) * H,
                               magnitude=r.uniform(0.05, 0.2)),
    ErrorType.MEMORY_LEAK, "memory_leak",
)  # fmt: skip
# Misfiled incidents: the operator guessed the wrong type; the report must not echo the guess.
KINDS["surge filed as leak"] = (KINDS["demand surge"][0], ErrorType.MEMORY_LEAK, "demand_surge")
KINDS["burst filed as slow dep."] = (
    KINDS["error burst"][0], ErrorType.SLOW_DEPENDENCY, "dependency_not_confirmed",
)  # fmt: skip


def one_case(rng: np.random.Generator, kind: str, seed: int) -> dict[str, object]:
    make, error_type, expected = KINDS[kind]
    slow = kind in ("slow dependency", "integration break (slow dep.)")
    modules = MODULES[:2] if slow else MODULES  # callers of user-mgmt
    module = str(rng.choice(modules))
    start = T0 + timedelta(days=7) + timedelta(minutes=int(rng.integers(0, 24 * 60)))
    incident = make(rng, module, start)
    catalog = load_catalog()
    frame = simulate_history(catalog, start=T0, days=DAYS, seed=seed, incidents=[incident])
    audit = MemoryAudit()
    if isinstance(incident, BadRelease):  # what a deploy job writes to the trail
        audit.write(AuditEntry(at=start, event="deploy", module=module, data={"version": "2"}))
    source = FrameSource(frame)
    plan = load_collection_plans().for_type(error_type)
    codes, elapsed = {}, 0.0
    for name, used in (
        ("nexus", plan),
        ("before only", plan.model_copy(update={"reference_days": 0})),
    ):
        t = time.perf_counter()
        collected = collect_incident(
            module=module, error_type=error_type, started_at=start, ended_at=incident.end,
            plan=used, source=source, catalog=catalog, now=T0 + timedelta(days=DAYS),
            audit=audit,
        )  # fmt: skip
        report = build_report(collected, "pt")
        render_markdown(report)
        if name == "nexus":
            elapsed = time.perf_counter() - t
        codes[name] = report.finding.code
    return {"kind": kind, "expected": expected, "codes": codes, "seconds": elapsed}


def loop_overhead(ticks: int = 300) -> dict[str, float]:
    """What the incident hook costs the executor's loop: tick time on the in-memory cluster with
    no hook, and with a hook whose handler takes 20 ms per event (a slow store), per tick."""
    import threading

    from nexus_ml.alerts.notifier import LogNotifier
    from nexus_ml.domain.decision import Action, Decision
    from nexus_ml.execute.client import DecisionBatch
    from nexus_ml.execute.guardrails import GuardrailConfig, Guardrails
    from nexus_ml.execute.incidents import IncidentHook
    from nexus_ml.execute.loop import Executor, ExecutorConfig
    from nexus_ml.execute.memory import InMemoryCluster

    class Source:
        def fetch(self, observed: object = None) -> DecisionBatch:
            return DecisionBatch(generated_at=datetime.now(UTC), policy="model", decisions=[
                Decision(module=m, action=Action.HOLD, current_replicas=1, target_replicas=1,
                         confidence=0.9) for m in MODULES])  # fmt: skip

    class Slow:
        def handle(self, event: object) -> None:
            threading.Event().wait(0.02)

    out: dict[str, float] = {}
    for name, hook in (("no_hook", None), ("slow_hook", IncidentHook(Slow(), maxsize=100))):
        executor = Executor(
            Source(), InMemoryCluster(dict.fromkeys(MODULES, 1)), load_catalog(),
            Guardrails(GuardrailConfig()), MemoryAudit(), LogNotifier(),
            config=ExecutorConfig(executor_id="bench"), incidents=hook,
        )  # fmt: skip
        times = []
        for _ in range(ticks):
            t = time.perf_counter()
            executor.tick()
            times.append(time.perf_counter() - t)
        out[f"{name}_tick_ms_median"] = float(np.median(times) * 1000)
        out[f"{name}_tick_ms_p99"] = float(np.quantile(times, 0.99) * 1000)
        if hook is not None:
            out["slow_hook_dropped"] = float(hook.dropped)
            hook.stop(timeout_s=1)
    return out


#: Never used while writing the rules (see the module docstring). 20261204 was the first held-out
#: seed; it showed INTEGRATION_BREAK collected with the API_BREAKING plan (no network latency)
#: missing every slow-link cause (results/crisis-seed20261204-plan-api-breaking.json). The plan
#: was changed to SLOW_DEPENDENCY and the figures below come from a fresh seed.
HELD_OUT_SEED = 20261205


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED)
    parser.add_argument("--per-kind", type=int, default=PER_KIND)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    # simulator seeds drawn from the same generator: a new seed changes every history too
    sim_seeds = rng.integers(0, 2**31, size=args.per_kind)
    cases = [one_case(rng, kind, int(seed)) for kind in KINDS for seed in sim_seeds]
    table = Table(
        title=f"Probable cause vs injected incident ({args.per_kind} random per kind, "
        f"seed {args.seed}{' — held out' if args.seed == HELD_OUT_SEED else ''})"
    )
    for col in ("incident", "filed as", "nexus", "before only", "nexus misses →"):
        table.add_column(col)
    results: dict[str, dict[str, object]] = {}
    for kind, (_, error_type, _) in KINDS.items():
        rows = [c for c in cases if c["kind"] == kind]
        acc = {
            name: float(np.mean([c["codes"][name] == c["expected"] for c in rows]))  # type: ignore[index]
            for name in ("nexus", "before only")
        }
        misses = sorted({c["codes"]["nexus"] for c in rows if c["codes"]["nexus"] != c["expected"]})  # type: ignore[index]
        results[kind] = {"error_type": error_type.value, "n": len(rows), **acc, "misses": misses}
        table.add_row(kind, error_type.value, f"{acc['nexus']:.0%}", f"{acc['before only']:.0%}",
                      ", ".join(misses) or "—")  # fmt: skip
    overall = {
        name: float(np.mean([c["codes"][name] == c["expected"] for c in cases]))  # type: ignore[index]
        for name in ("nexus", "before only")
    }
    seconds = [float(c["seconds"]) for c in cases]  # type: ignore[arg-type]
    table.add_row("all", "", f"{overall['nexus']:.0%}", f"{overall['before only']:.0%}", "")
    results["overall"] = {
        **overall,
        "seed": args.seed,
        "held_out": args.seed == HELD_OUT_SEED,
        "per_kind": args.per_kind,
        "ratio_nexus_vs_before_only": overall["nexus"] / max(overall["before only"], 1e-9),
        "report_s_median": float(np.median(seconds)),
        "report_s_max": float(np.max(seconds)),
    }
    results["loop_overhead"] = loop_overhead()
    console = Console()
    console.print(table)
    console.print(f"loop overhead: {results['loop_overhead']}")
    console.print(
        f"collect + report + Markdown: median {np.median(seconds) * 1000:.0f} ms, "
        f"max {np.max(seconds) * 1000:.0f} ms per incident"
    )
    out = OUT if args.seed == HELD_OUT_SEED else OUT.with_name(f"crisis-seed{args.seed}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    console.print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
