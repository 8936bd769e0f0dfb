"""Split a SQL script into statements, so each one runs (and fails) on its own.

Why pglast: a splitter must lex SQL exactly as PostgreSQL does (quotes, ``E''`` escapes,
dollar-quoted bodies, nested ``/* */`` comments, ``a$1$b`` identifiers), and pglast wraps
PostgreSQL's own scanner (libpg_query), so there is no home-made lexer to keep in step.
The *scanner* split is used, not the parser: a statement the bundled parser rejects (newer
server syntax, or a plain mistake) still reaches the server, which reports it with its own
message when the migration runs. A comment before a statement stays part of its text.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from pglast import parser as pg

from nexus_ml.migrate.errors import ParseError

# Tokens that may stand outside every statement: comments and the semicolons between statements.
_BETWEEN = frozenset({"SQL_COMMENT", "C_COMMENT", "ASCII_59"})


@dataclass(frozen=True)
class Statement:
    """One SQL statement and the 1-based line where it starts in its file."""

    text: str
    line: int


def split_statements(
    sql: str, *, first_line: int = 1, path: Path | str = "<sql>"
) -> list[Statement]:
    """The statements of ``sql`` without the terminating semicolons; empty ones dropped.

    Parameters
    ----------
    sql
        The script (one section of a migration file).
    first_line
        The line of ``sql``'s first character in its file, so that lines are the file's.
    path
        The file named in errors.

    Raises
    ------
    ParseError
        An unterminated quote, dollar quote or comment, or text the scanner cannot place in a
        statement (no SQL keyword before its ``;``); the message names the file and line.
    """
    try:
        slices = pg.split(sql, with_parser=False, only_slices=True)
        tokens = pg.scan(sql)
    except pg.ParseError as err:
        message, index = err.args[0], err.args[1] if len(err.args) > 1 else 0
        raise ParseError(path, str(message), line=_line_of(sql, int(index), first_line)) from err
    # libpg_query's scanner split silently drops a chunk without any keyword ("SELEC 1;"):
    # every token outside the returned statements must be a comment or a separator.
    starts = [s.start for s in slices]
    for token in tokens:
        k = bisect_right(starts, token.start) - 1
        inside = k >= 0 and token.start < slices[k].stop
        if not inside and token.name not in _BETWEEN:
            end = sql.find(";", token.start)
            fragment = sql[token.start : end if end >= 0 else len(sql)].strip()
            raise ParseError(
                path,
                f"not a SQL statement (no keyword before its ';'): {fragment[:60]!r}",
                line=_line_of(sql, token.start, first_line),
            )
    return [Statement(sql[s], _line_of(sql, s.start, first_line)) for s in slices]


def _line_of(sql: str, index: int, first_line: int) -> int:
    return first_line + sql.count("\n", 0, max(0, index))
