"""The options ``train`` and ``retrain`` share, declared once.

Both verbs take the same twelve training options. :func:`with_train_options` adds them to a
typer command (after the command's own options, so ``--help`` lists the command's first) and
hands the command one :class:`TrainOptions` instead of twelve parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

R = TypeVar("R")


@dataclass(frozen=True)
class TrainOptions:
    """The options ``train`` and ``retrain`` share (``end`` is UTC)."""

    modules: list[str]
    days: float
    step_s: int
    data: Path | None
    end: datetime | None
    fields: str | None
    min_coverage: float
    margin: float
    jobs: int
    dask: str | None
    store: str
    experiment: str | None


# One CLI parameter per TrainOptions field, in the same order, with its default.
_OPTIONS: tuple[tuple[str, Any, object], ...] = (
    (
        "modules",
        Annotated[
            list[str], typer.Option("--module", "-m", help="Module (repeatable); default all")
        ],
        [],
    ),
    ("days", Annotated[float, typer.Option(min=1.5, help="Days of history to train on")], 28.0),
    (
        "step_s",
        Annotated[int, typer.Option("--step", min=1, help="Sampling step in seconds")],
        60,
    ),
    (
        "data",
        Annotated[
            Path | None,
            typer.Option("--from", help="Metric frame file (.parquet/.csv); default Prometheus"),
        ],
        None,
    ),
    (
        "end",
        Annotated[
            datetime | None,
            typer.Option(help="End of the window (UTC); default now, or the file's end"),
        ],
        None,
    ),
    (
        "fields",
        Annotated[str | None, typer.Option(help="Comma-separated fields to forecast; default all")],
        None,
    ),
    (
        "min_coverage",
        Annotated[float, typer.Option(min=0, max=1, help="Refuse data below this coverage")],
        0.9,
    ),
    (
        "margin",
        Annotated[float, typer.Option(min=0, max=0.99, help="MASE margin to beat the champion")],
        0.02,
    ),
    ("jobs", Annotated[int, typer.Option(help="Parallel jobs (joblib n_jobs)")], -1),
    (
        "dask",
        Annotated[
            str | None,
            typer.Option(
                help="Dask scheduler (tcp://HOST:8786) to fan out on; pip install 'nexus-ml[dask]'"
            ),
        ],
        None,
    ),
    ("store", Annotated[str, typer.Option(help="Model store: mlflow or local")], "mlflow"),
    (
        "experiment",
        Annotated[
            str | None,
            typer.Option(help="MLflow experiment; default NEXUS_MLFLOW_EXPERIMENT (nexus-ml)"),
        ],
        None,
    ),
)


def with_train_options(command: Callable[..., R]) -> Callable[..., R]:
    """Give a typer command the shared training options, as one ``opts: TrainOptions``.

    ``command`` declares its own options and a parameter ``opts``; the CLI shows its own
    options followed by the shared ones, and calls it with ``opts`` built from them (``--end``
    read as UTC when it carries no zone).
    """
    signature = inspect.signature(command, eval_str=True)
    if "opts" not in signature.parameters:
        raise TypeError(f"{command.__name__} must take an 'opts' parameter")
    own = [p for p in signature.parameters.values() if p.name != "opts"]
    shared = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=hint)
        for name, hint, default in _OPTIONS
    ]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> R:
        values = {name: kwargs.pop(name) for name, _, _ in _OPTIONS}
        values["end"] = utc(values["end"])
        return command(**kwargs, opts=TrainOptions(**values))

    params = [*own, *shared]
    # typer reads both: the signature for the options, the annotations for their types.
    wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    return wrapper


def utc(moment: datetime | None) -> datetime | None:
    """``moment`` in UTC; a naive one is taken to be UTC already."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
