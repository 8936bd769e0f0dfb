"""``nexus-ml anomaly``: the NAB benchmark tooling (run a detector, score results)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nexus_ml.cli.common import console, exits_cleanly
from nexus_ml.errors import InputError

if TYPE_CHECKING:
    from nexus_ml.evaluate.nab.scoring import LabelledSeries


def register(app: typer.Typer) -> None:
    anomaly_app = typer.Typer(help="Anomaly detection: the Numenta Anomaly Benchmark (NAB).")
    app.add_typer(anomaly_app, name="anomaly")

    @anomaly_app.command("nab-run")
    @exits_cleanly
    def nab_run(
        data_dir: Annotated[Path, typer.Argument(help="NAB data folder: <category>/<file>.csv")],
        out_dir: Annotated[Path, typer.Argument(help="Where to write <category>/<file>.csv")],
        detector: Annotated[
            str, typer.Option(help="Detector: nexus, or the robust_z reference")
        ] = "nexus",
        jobs: Annotated[int, typer.Option(help="Files scored in parallel")] = 2,
    ) -> None:
        """Run a detector causally over every file of DATA_DIR and write NAB result files."""
        from nexus_ml.evaluate.nab.corpus import data_files
        from nexus_ml.evaluate.nab.runner import run_corpus

        if jobs < 1:
            raise InputError(f"--jobs must be at least 1, got {jobs}")
        files = data_files(data_dir)
        progress = Progress(
            TextColumn("[bold]nab-run"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        )
        with progress:
            task = progress.add_task("", total=len(files))
            runs = run_corpus(
                data_dir,
                out_dir,
                detector=detector,
                n_jobs=jobs,
                files=files,
                on_done=lambda run: progress.update(task, advance=1, description=run.relative_path),
            )
        rows = sum(r.rows for r in runs)
        seconds = sum(r.seconds for r in runs)
        console.print(
            f"{detector}: {len(runs)} files, {rows} rows, {seconds:.1f} s of compute → {out_dir}"
        )

    @anomaly_app.command("nab-score")
    @exits_cleanly
    def nab_score(
        results_dir: Annotated[
            Path,
            typer.Argument(help="Results of one detector, or a folder of <detector>/ folders"),
        ],
        labels: Annotated[Path, typer.Option(help="NAB combined_windows.json")],
        data_dir: Annotated[
            Path | None, typer.Option(help="NAB data folder: check results cover every file")
        ] = None,
        json_out: Annotated[
            Path | None, typer.Option("--json", help="Write the scores as JSON here")
        ] = None,
    ) -> None:
        """Score NAB result files on the three profiles with NAB's method."""
        from nexus_ml.evaluate.nab.corpus import (
            data_files,
            detector_dirs,
            load_results,
            read_windows,
        )
        from nexus_ml.evaluate.nab.scoring import PROFILES, score_corpus

        windows = read_windows(labels)
        if data_dir is not None:
            unlabelled = sorted(set(data_files(data_dir)) - set(windows))
            if unlabelled:
                raise InputError(f"data files without labels, e.g. {unlabelled[0]!r}")
        n_windows = sum(len(w) for w in windows.values())
        table = Table(title=f"NAB scores ({len(windows)} files, {n_windows} windows)")
        for col in ("detector", "profile", "score", "threshold", "windows found", "FP rows"):
            left = col in ("detector", "profile")
            table.add_column(col, justify="left" if left else "right", no_wrap=left)
        report: dict[str, dict[str, dict[str, float]]] = {}
        for name, folder in detector_dirs(results_dir, windows).items():
            series = load_results(folder, windows)
            if data_dir is not None:
                _check_lengths(series, data_dir)
            results = score_corpus(series, PROFILES, n_labelled_windows=n_windows)
            report[name] = {}
            for profile in PROFILES:
                r = results[profile.name]
                report[name][profile.name] = {
                    "score": r.normalised,
                    "threshold": r.threshold,
                    "raw": r.raw_score,
                    "tp_windows": r.tp,
                    "fp_rows": r.fp,
                }
                table.add_row(
                    name,
                    profile.name,
                    f"{r.normalised:.2f}",
                    f"{r.threshold:.6g}",
                    f"{r.tp}/{r.tp + r.fn}",
                    str(r.fp),
                )
        console.print(table)
        if json_out is not None:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(report, indent=2))


def _check_lengths(series: list[LabelledSeries], data_dir: Path) -> None:
    from nexus_ml.evaluate.nab.corpus import read_series

    for s in series:
        n = len(read_series(data_dir / s.name))
        if n != len(s.scores):
            raise InputError(f"result for {s.name!r} has {len(s.scores)} rows, the data has {n}")
