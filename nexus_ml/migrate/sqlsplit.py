"""Split a SQL script into statements, so each one runs (and fails) on its own.

Knows enough of PostgreSQL's lexer to keep quoted text together: single and double quotes,
dollar-quoted bodies (``$$ … $$``, ``$fn$ … $fn$``), ``--`` and nested ``/* */`` comments.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_SPECIAL = re.compile(r"[-/'\"$;]")


@dataclass(frozen=True)
class Statement:
    """One SQL statement and the 1-based line where it starts in its file."""

    text: str
    line: int


def split_statements(sql: str, *, first_line: int = 1) -> list[Statement]:
    """The statements of ``sql`` without the terminating semicolons; empty ones dropped."""
    out: list[Statement] = []
    start = 0
    i = 0
    n = len(sql)
    while i < n:
        special = _SPECIAL.search(sql, i)  # jump over plain text in one step
        if special is None:
            break
        i = special.start()
        ch = sql[i]
        if ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch == "/" and sql.startswith("/*", i):
            i = _skip_block_comment(sql, i)
        elif ch in "'\"":
            i = _skip_quoted(sql, i, ch)
        elif ch == "$" and (m := _DOLLAR_TAG.match(sql, i)) and not _in_identifier(sql, i):
            close = sql.find(m.group(0), m.end())
            i = n if close < 0 else close + len(m.group(0))
        elif ch == ";":
            _append(out, sql, start, i, first_line)
            start = i = i + 1
        else:
            i += 1
    _append(out, sql, start, n, first_line)
    return out


def _append(out: list[Statement], sql: str, start: int, end: int, first_line: int) -> None:
    chunk = sql[start:end]
    body = _strip_comments_only(chunk)
    if not body:
        return
    lead = len(chunk) - len(chunk.lstrip())
    line = first_line + sql.count("\n", 0, start + lead)
    out.append(Statement(chunk.strip(), line))


def _strip_comments_only(chunk: str) -> str:
    lines = [ln for ln in chunk.strip().splitlines() if not ln.strip().startswith("--")]
    return "\n".join(lines).strip()


def _skip_block_comment(sql: str, i: int) -> int:
    depth = 0
    while i < len(sql):
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return i


def _skip_quoted(sql: str, i: int, quote: str) -> int:
    i += 1
    while i < len(sql):
        if sql[i] == quote:
            if i + 1 < len(sql) and sql[i + 1] == quote:  # doubled quote is an escaped quote
                i += 2
                continue
            return i + 1
        i += 1
    return i


def _in_identifier(sql: str, i: int) -> bool:
    # ``a$1$`` is an identifier, not a dollar quote: a tag cannot follow an identifier char.
    return i > 0 and (sql[i - 1].isalnum() or sql[i - 1] == "_")
