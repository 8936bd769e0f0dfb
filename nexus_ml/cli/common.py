"""Shared CLI plumbing: consoles, settings, and the one translation of errors to exit codes."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import IO, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from nexus_ml import logs
from nexus_ml.errors import NexusError
from nexus_ml.logs import LOG_FORMATS
from nexus_ml.redact import install_log_redaction, redact
from nexus_ml.settings import Settings, get_settings

P = ParamSpec("P")
R = TypeVar("R")

# Without a terminal (a pipe, a file, a CI log) rich falls back to 80 columns and folds wide
# tables (the catalog, the replay summary) into ellipses; there is no screen to fit there, so
# tables get this much room unless the user set COLUMNS.
PIPE_WIDTH = 200


def _console(*, stderr: bool = False, file: IO[str] | None = None) -> Console:
    probe = Console(stderr=stderr, file=file)
    if probe.is_terminal or "COLUMNS" in os.environ:
        return probe
    return Console(stderr=stderr, file=file, width=PIPE_WIDTH)


console = _console()
err_console = _console(stderr=True)


_BAD_PATH = (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)


def _known_secrets() -> list[str]:
    try:
        return get_settings().secret_values()
    except Exception:  # broken settings are what is being reported: patterns still apply
        return []


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` (redacted, one line) on stderr; the exit to raise."""
    line = " ".join(redact(message, _known_secrets()).split())
    err_console.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def exits_cleanly(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn an error into one red, redacted line on stderr and its exit code, no traceback.

    :class:`NexusError` carries its exit code. Errors that only bad input causes (a path that
    does not exist, a file that is not UTF-8, a number out of range) exit 2 even when they were
    not anticipated, as does an ``OSError`` a library raised about its arguments (no errno);
    any other ``OSError`` (disk full, ...) exits 1. Anything else is a bug and keeps its
    traceback.
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except NexusError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except UnicodeDecodeError as exc:
            where = f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start}"
            raise fail(f"an input file is not UTF-8 text ({where})", 2) from None
        except _BAD_PATH as exc:
            raise fail(f"{exc.filename}: {exc.strerror}", 2) from None
        except OverflowError as exc:
            raise fail(f"a value is out of range ({exc})", 2) from None
        except OSError as exc:
            if exc.errno is None:
                # a library's check of its arguments, e.g. pandas' "Cannot save file into a
                # non-existent directory" for an --out whose folder is missing
                raise fail(str(exc), 2) from None
            where = f"{exc.filename}: " if exc.filename else ""
            raise fail(f"{where}{exc.strerror or exc}", 1) from None

    return wrapper


def settings() -> Settings:
    """The process's settings; from now on their secrets are masked in every log line too."""
    cfg = get_settings()
    install_log_redaction(cfg.secret_values())
    return cfg


def configure_logging(verbose: bool = False, log_format: str | None = None) -> None:
    """One structured line per event on stderr (:mod:`nexus_ml.logs`), secrets masked.

    The format is ``log_format`` (``--log-format``) or ``NEXUS_LOG_FORMAT``; the level DEBUG
    with ``--verbose``, else ``NEXUS_LOG_LEVEL``. Broken settings are not reported here: the
    command that reads them says what is wrong; until then lines are text at INFO.
    """
    try:
        cfg: Settings | None = get_settings()
    except NexusError:
        cfg = None
    kind = log_format or (cfg.log_format if cfg is not None else "text")
    if kind not in LOG_FORMATS:
        raise fail(f"--log-format must be 'json' or 'text', got {kind!r}", 2)
    level = "DEBUG" if verbose else (cfg.log_level if cfg is not None else "INFO")
    secrets = cfg.secret_values() if cfg is not None else []
    logs.configure_logging(kind, level, secrets=secrets)
