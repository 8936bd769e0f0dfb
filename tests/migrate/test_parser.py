"""Migration files and the SQL splitter (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_ml.migrate.errors import DuplicateMigrationError, ParseError
from nexus_ml.migrate.parser import checksum_of, load_migrations, parse_migration
from nexus_ml.migrate.sqlsplit import split_statements

from .conftest import EXAMPLES

TEXT = """-- a comment before anything
-- migrate:depends crm:0001, user_management:0001
-- migrate:lint-ignore type-change
-- migrate:allow-not-valid t_fk, t_chk
-- migrate:up
CREATE TABLE x.t (id int, note text DEFAULT 'a;b');
CREATE FUNCTION x.f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;
-- migrate:verify
SELECT true;
-- migrate:down
DROP TABLE x.t;
"""


def test_sections_dependencies_and_flags_are_parsed() -> None:
    m = parse_migration("agendamento", "0003_add_things.sql", TEXT)
    assert (m.key, m.name, m.transactional) == ("agendamento:0003", "add_things", True)
    assert m.depends_on == ("crm:0001", "user_management:0001")
    assert m.lint_ignore == frozenset({"type-change"})
    assert m.allow_not_valid == frozenset({"t_fk", "t_chk"})
    assert [s.line for s in m.up] == [6, 7]
    assert "$$ SELECT 1; $$" in m.up[1].text and "'a;b'" in m.up[0].text
    assert [s.text for s in m.verify] == ["SELECT true"]
    assert [s.text for s in m.down] == ["DROP TABLE x.t"]
    assert m.checksum == checksum_of(TEXT)
    assert m.step.number == "0003"


def test_splitter_keeps_quotes_comments_and_dollar_bodies_together() -> None:
    sql = (
        "SELECT 'it''s; fine';\n-- a; comment\nSELECT \"odd;name\" FROM t; /* block; */\n"
        "DO $body$ BEGIN PERFORM 1; END $body$;\nSELECT a$1$b;"
    )
    texts = [s.text for s in split_statements(sql)]
    assert texts[0] == "SELECT 'it''s; fine'"
    assert texts[1].endswith('SELECT "odd;name" FROM t')
    assert texts[2].startswith("/* block; */") and "PERFORM 1; END $body$" in texts[2]
    assert texts[3] == "SELECT a$1$b"
    assert len(texts) == 4


@pytest.mark.parametrize(
    ("file_name", "text", "problem"),
    [
        ("3_x.sql", "-- migrate:up\nSELECT 1;", "is not NNNN_name.sql"),
        ("0001_x.sql", "SELECT 1;", "SQL before the `-- migrate:up` section"),
        ("0001_x.sql", "-- migrate:down\nSELECT 1;", "out of order"),
        ("0001_x.sql", "-- migrate:upp\nSELECT 1;", "unknown directive 'migrate:upp'"),
        ("0001_x.sql", "-- migrate:up\n-- nothing\n", "the up section has no statement"),
        ("0001_x.sql", "-- migrate:depends crm\n-- migrate:up\nSELECT 1;", "is not module:NNNN"),
        ("0001_x.sql", "-- migrate:transactional maybe\n-- migrate:up\nSELECT 1;", "true or false"),
        ("0001_x.sql", "-- migrate:up\nSELECT 1;\n-- migrate:depends crm:0001", "after the up"),
    ],
)
def test_malformed_files_name_file_and_problem(file_name: str, text: str, problem: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_migration("crm", file_name, text, path=f"migrations/crm/{file_name}")
    assert problem in err.value.problem
    assert str(err.value).startswith(f"migrations/crm/{file_name}")


def test_duplicate_numbers_are_refused(tmp_path: Path) -> None:
    (tmp_path / "crm").mkdir()
    for name in ("0001_a.sql", "0001_b.sql"):
        (tmp_path / "crm" / name).write_text("-- migrate:up\nSELECT 1;\n")
    with pytest.raises(DuplicateMigrationError) as err:
        load_migrations(tmp_path)
    assert err.value.number == "0001" and err.value.path.endswith("0001_b.sql")
    assert "also 0001_a.sql" in str(err.value)


def test_the_shipped_example_set_parses() -> None:
    keys = {m.key for m in load_migrations(EXAMPLES)}
    assert {
        "user_management:0001",
        "crm:0001",
        "agendamento:0001",
        "crm:0002",
        "agendamento:0002",
        "user_management:0002",
        "crm:0003",
    } == keys


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        ("SELECT 1;\nSELECT 'é', 'open;\nSELECT 2;", 4, "unterminated quoted string"),
        ("SELECT 1;\n\nDO $f$ BEGIN PERFORM 1; END $g$;", 5, "unterminated dollar-quoted"),
        ("SELECT 1; /* open\n", 3, "unterminated /* comment"),
        ("SELECT 1;\nSELEC 2;\nSELECT 3;", 4, "not a SQL statement"),
    ],
)
def test_malformed_sql_names_file_and_line(body: str, line: int, problem: str) -> None:
    text = f"-- migrate:depends crm:0001\n-- migrate:up\n{body}\n"
    with pytest.raises(ParseError) as err:
        parse_migration("crm", "0002_x.sql", text, path="migrations/crm/0002_x.sql")
    assert problem in err.value.problem
    assert err.value.line == line
    assert str(err.value).startswith(f"migrations/crm/0002_x.sql:{line}")


def test_statement_lines_count_from_the_file_and_keep_leading_comments() -> None:
    sql = "SELECT 'ü';\n\n-- why\nCREATE TABLE t (a int);\nSELECT 1 -- last, no semicolon"
    got = split_statements(sql, first_line=10)
    assert [(s.text, s.line) for s in got] == [
        ("SELECT 'ü'", 10),
        ("-- why\nCREATE TABLE t (a int)", 12),
        ("SELECT 1 -- last, no semicolon", 14),
    ]
