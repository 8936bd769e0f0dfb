"""Run every policy over a folder of traces and render the comparison (tables, plots, HTML)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nexus_ml.evaluate.replay.calibration import Calibration, scale_up_calibration
from nexus_ml.evaluate.replay.metrics import ReplayMetrics, score_replay
from nexus_ml.evaluate.replay.physics import ReplayParams, ReplayResult, prepare_trace, replay
from nexus_ml.evaluate.replay.registry import make_policy
from nexus_ml.evaluate.replay.trace import load_trace

if TYPE_CHECKING:
    from nexus_ml.evaluate.replay.nexus_policy import ChampionTrainer

ALL_POLICIES: tuple[str, ...] = ("static_peak", "hpa", "seed_rule", "crane_ehpa", "oracle", "nexus")
SUMMARY_FIELDS: tuple[str, ...] = (
    "overload_minutes_servable",
    "theta_u",
    "theta_o",
    "tau_u",
    "tau_o",
    "replica_hours",
    "scale_events",
)


@dataclass
class BenchmarkRun:
    """Per-trace metrics and results of every policy."""

    metrics: dict[str, dict[str, ReplayMetrics]] = field(default_factory=dict)  # trace → policy
    results: dict[str, dict[str, ReplayResult]] = field(default_factory=dict)
    decision_ms: dict[str, float] = field(default_factory=dict)  # trace → mean ms per decision

    def merge(self, other: BenchmarkRun) -> None:
        """Add the traces of a run made elsewhere (another process)."""
        self.metrics.update(other.metrics)
        self.results.update(other.results)
        self.decision_ms.update(other.decision_ms)

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean of each metric over traces, per policy; replica-hours also as a ratio to oracle."""
        out: dict[str, dict[str, float]] = {}
        policies = {p for per_trace in self.metrics.values() for p in per_trace}
        for policy in sorted(policies):
            rows = [m[policy] for m in self.metrics.values() if policy in m]
            out[policy] = {f: float(np.mean([getattr(r, f) for r in rows])) for f in SUMMARY_FIELDS}
            out[policy]["overload_minutes_servable_total"] = float(
                sum(r.overload_minutes_servable for r in rows)
            )
            if all("oracle" in m for m in self.metrics.values()):
                ratios = [
                    m[policy].replica_hours / m["oracle"].replica_hours
                    for m in self.metrics.values()
                ]
                out[policy]["replica_hours_vs_oracle"] = float(np.mean(ratios))
        return out

    def calibration(self) -> Calibration:
        return scale_up_calibration([r["nexus"] for r in self.results.values() if "nexus" in r])


def run_benchmark(
    traces: Sequence[Path],
    policies: Sequence[str] = ALL_POLICIES,
    *,
    params: ReplayParams | None = None,
    on_step: Callable[[str, str], None] | None = None,
    champion_trainer: ChampionTrainer | None = None,
) -> BenchmarkRun:
    """Every policy on every trace; ``nexus`` trains its champion with ``champion_trainer``."""
    run = BenchmarkRun()
    for path in traces:
        prepared = prepare_trace(load_trace(path), params)
        run.metrics[path.stem], run.results[path.stem] = {}, {}
        for name in policies:
            policy = make_policy(name, champion_trainer=champion_trainer)
            result = replay(prepared, policy)
            run.results[path.stem][name] = result
            spent = getattr(policy, "decision_seconds", None)
            if spent is not None and len(result.targets):
                run.decision_ms[path.stem] = 1000.0 * spent / len(result.targets)
            run.metrics[path.stem][name] = score_replay(result)
            if on_step:
                on_step(path.stem, name)
    return run


def target_ratios(summary: dict[str, dict[str, float]]) -> dict[str, float]:
    """nexus's τ_U, servable overload and scale events vs hpa's; replica-hours vs oracle's."""
    nexus, hpa = summary["nexus"], summary["hpa"]
    return {
        "tau_u_vs_hpa": nexus["tau_u"] / hpa["tau_u"],
        "overload_vs_hpa": nexus["overload_minutes_servable_total"]
        / max(hpa["overload_minutes_servable_total"], 1.0),
        "replica_hours_vs_oracle": nexus["replica_hours_vs_oracle"],
        "scale_events_vs_hpa": nexus["scale_events"] / max(hpa["scale_events"], 1.0),
    }


def _png(fig: object) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")  # type: ignore[attr-defined]
    plt.close(fig)  # type: ignore[arg-type]
    return base64.b64encode(buf.getvalue()).decode()


def plot_supply(results: dict[str, ReplayResult], *, minutes: int = 2 * 1440) -> str:
    """Demand vs supply of each policy over the first scored days, as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first = next(iter(results.values()))
    t0 = first.trace.start
    span = slice(t0, t0 + min(minutes, len(first.ready)))
    x = first.trace.timestamps[span]
    fig, axes = plt.subplots(len(results), 1, figsize=(11, 1.7 * len(results)), sharex=True)
    for ax, (name, result) in zip(np.atleast_1d(axes), results.items(), strict=True):
        ax.step(
            x, first.trace.demanded[span], where="post", color="black", lw=0.8, label="demand D"
        )
        ax.step(x, result.ready[: len(x)], where="post", color="tab:blue", lw=0.9, label="ready S")
        ax.set_ylabel(name, rotation=0, ha="right")
    np.atleast_1d(axes)[0].legend(loc="upper right", fontsize=8)
    return _png(fig)


def plot_reliability(calibration: Calibration) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    table = calibration.table()
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    ax.plot([r[1] for r in table], [r[2] for r in table], marker="o")
    ax.set_xlabel("confidence of scale-up")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"ECE = {calibration.ece:.3f} over {calibration.count} scale-ups")
    return _png(fig)


def _table(rows: list[list[str]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(run: BenchmarkRun) -> str:
    header = ["policy", *SUMMARY_FIELDS, "replica_hours_vs_oracle"]
    summary = run.summary()
    rows = [[p] + [f"{v.get(f, float('nan')):.3f}" for f in header[1:]] for p, v in summary.items()]
    parts = [
        "<html><head><meta charset='utf-8'><title>nexus-ml replay report</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}</style></head><body>",
        "<h1>Autoscaling replay (model v1)</h1><h2>Summary (mean over traces)</h2>",
        _table(rows, header),
    ]
    if any("nexus" in r for r in run.results.values()):
        cal = run.calibration()
        chance, _ = cal.chance_ece()
        parts.append(
            f"<h2>Calibration of scale-up confidence</h2><p>ECE {cal.ece:.4f} over "
            f"{cal.count} scale-ups (an exact confidence would show {chance:.4f} by chance)</p>"
        )
        parts.append(f"<img src='data:image/png;base64,{plot_reliability(cal)}'>")
    for trace, per_policy in run.metrics.items():
        rows = [
            [p] + [f"{getattr(m, f):.3f}" for f in SUMMARY_FIELDS] for p, m in per_policy.items()
        ]
        parts.append(f"<h2>{html.escape(trace)}</h2>" + _table(rows, ["policy", *SUMMARY_FIELDS]))
        parts.append(f"<img src='data:image/png;base64,{plot_supply(run.results[trace])}'>")
    parts.append("</body></html>")
    return "\n".join(parts)
