"""``nexus-ml replay``: autoscaling policies replayed on demand traces (replay model v1)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.progress import Progress
from rich.table import Table

from nexus_ml.cli.common import console, exits_cleanly
from nexus_ml.errors import InputError


def register(app: typer.Typer) -> None:
    @app.command("replay")
    @exits_cleanly
    def replay_cmd(
        trace: Path | None = typer.Argument(None, help="One trace CSV (ts,value)"),
        policy: str = typer.Option(
            "nexus", help="static_peak, hpa, seed_rule, crane_ehpa, oracle, nexus"
        ),
        out: Path | None = typer.Option(
            None, help="Write the per-minute targets (timestamp,replicas)"
        ),
        all_dir: Path | None = typer.Option(
            None, "--all", help="Replay every *.csv in this folder"
        ),
        report: Path | None = typer.Option(None, help="HTML report (with --all)"),
        json_out: Path | None = typer.Option(None, "--json", help="Summary JSON (with --all)"),
    ) -> None:
        """Replay a policy on a trace, or every policy on a folder of traces."""
        from nexus_ml.evaluate.replay import (
            load_trace,
            make_policy,
            prepare_trace,
            replay,
            score_replay,
        )
        from nexus_ml.evaluate.replay.report import ALL_POLICIES, render_html, run_benchmark
        from pipelines.trace_champion import train_trace_champion

        for target in (out, report, json_out):  # refuse before minutes of replaying
            if target is not None and not target.parent.is_dir():
                raise InputError(f"{target}: the folder {target.parent} does not exist")
        if all_dir is not None:
            traces = sorted(all_dir.glob("*.csv")) if all_dir.is_dir() else []
            if not traces:
                raise InputError(f"{all_dir}: no *.csv traces found")
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("replaying", total=len(traces) * len(ALL_POLICIES))
                run = run_benchmark(
                    traces,
                    on_step=lambda *_: progress.advance(task),
                    champion_trainer=train_trace_champion,
                )
            _print_summary(run.summary())
            if any("nexus" in r for r in run.results.values()):
                calibration = run.calibration()
                chance, _ = calibration.chance_ece()
                console.print(
                    f"calibration error (ECE) of scale-up confidence: {calibration.ece:.4f} "
                    f"(an exact confidence would show {chance:.4f} by chance on these "
                    f"{calibration.count} scale-ups)"
                )
            if report:
                report.write_text(render_html(run), encoding="utf-8")
                console.print(f"report: {report}")
            if json_out:
                json_out.write_text(
                    json.dumps(
                        {
                            "summary": run.summary(),
                            "traces": {
                                t: {p: m.as_dict() for p, m in per.items()}
                                for t, per in run.metrics.items()
                            },
                        },
                        indent=2,
                    )
                )
            return
        if trace is None:
            raise InputError("give a TRACE.csv or --all DIR")
        chosen = make_policy(policy, champion_trainer=train_trace_champion)
        result = replay(prepare_trace(load_trace(trace)), chosen)
        metrics = score_replay(result)
        _print_one(policy, {k: float(v) for k, v in metrics.as_dict().items() if k != "policy"})
        if out:
            result.targets_frame().to_csv(out, index=False)
            console.print(f"targets: {out} ({len(result.targets)} minutes)")


def _print_one(policy: str, values: dict[str, float]) -> None:
    """One policy's metrics, one per row: fits any terminal."""
    table = Table(title=f"replay model v1: {policy}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in sorted(values.items()):
        table.add_row(name, f"{value:.2f}")
    console.print(table)


def _print_summary(summary: dict[str, dict[str, float]]) -> None:
    fields = sorted({f for v in summary.values() for f in v})
    table = Table(title="replay model v1")
    table.add_column("policy", style="bold")
    for f in fields:
        table.add_column(f, justify="right")
    for policy, values in summary.items():
        table.add_row(policy, *(f"{values.get(f, float('nan')):.2f}" for f in fields))
    console.print(table)
