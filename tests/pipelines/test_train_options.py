"""The training options ``train`` and ``retrain`` share: declared once, read the same by both."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from nexus_ml.cli.main import app
from nexus_ml.cli.train_options import _OPTIONS, TrainOptions, with_train_options

runner = CliRunner()


def _probe() -> tuple[typer.Typer, list[tuple[str, TrainOptions]]]:
    seen: list[tuple[str, TrainOptions]] = []
    probe = typer.Typer()

    @probe.command()
    @with_train_options
    def go(
        opts: TrainOptions,
        label: Annotated[str, typer.Option(help="the command's own option")] = "x",
    ) -> None:
        seen.append((label, opts))

    return probe, seen


def test_the_command_receives_one_options_object_with_the_defaults() -> None:
    probe, seen = _probe()
    result = runner.invoke(probe, [])
    assert result.exit_code == 0, result.output
    assert seen == [
        (
            "x",
            TrainOptions(
                modules=[],
                days=28.0,
                step_s=60,
                data=None,
                end=None,
                fields=None,
                min_coverage=0.9,
                margin=0.02,
                jobs=-1,
                dask=None,
                store="mlflow",
                experiment=None,
            ),
        )
    ]


def test_given_options_reach_the_command_and_end_is_read_as_utc(tmp_path: Path) -> None:
    probe, seen = _probe()
    args = ["--label", "y", "-m", "crm", "--module", "agendamento", "--days", "3", "--step", "300"]
    args += ["--from", str(tmp_path / "f.parquet"), "--end", "2026-01-05T03:00:00"]
    args += ["--fields", "cpu_usage", "--min-coverage", "0.5", "--margin", "0.1", "--jobs", "2"]
    args += ["--dask", "tcp://127.0.0.1:8786", "--store", "local", "--experiment", "e"]
    result = runner.invoke(probe, args)
    assert result.exit_code == 0, result.output
    label, opts = seen[0]
    assert label == "y"
    assert opts.modules == ["crm", "agendamento"]
    assert (opts.days, opts.step_s, opts.data) == (3.0, 300, tmp_path / "f.parquet")
    assert opts.end == datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
    assert (opts.fields, opts.min_coverage, opts.margin, opts.jobs) == ("cpu_usage", 0.5, 0.1, 2)
    assert (opts.dask, opts.store, opts.experiment) == ("tcp://127.0.0.1:8786", "local", "e")


def test_bounds_still_apply() -> None:
    probe, seen = _probe()
    result = runner.invoke(probe, ["--days", "1"])
    assert result.exit_code == 2 and not seen
    assert "1.5" in result.output


def test_train_and_retrain_take_the_same_training_options_after_their_own() -> None:
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    shared = [f.name for f in fields(TrainOptions)]
    assert [name for name, _, _ in _OPTIONS] == shared
    assert [p.name for p in commands["train"].params] == shared
    retrain = [p.name for p in commands["retrain"].params]
    assert retrain == ["every", "cron", "once", "lock", "pg_lock", *shared]
    for name in shared:
        one, other = (
            next(p for p in commands[v].params if p.name == name) for v in ("train", "retrain")
        )
        assert (one.opts, one.default, one.help) == (other.opts, other.default, other.help)


def test_a_command_without_opts_is_refused() -> None:
    def plain(label: str = "x") -> None: ...

    with pytest.raises(TypeError, match="'opts'"):
        with_train_options(plain)
