"""The one duration parser: every form operators write, and clear errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexus_ml.durations import parse_duration, report_duration
from nexus_ml.errors import InputError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("1.5h", timedelta(minutes=90)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(days=14)),
        ("1d12h", timedelta(hours=36)),
        (" 6h ", timedelta(hours=6)),
    ],
)
def test_every_form_operators_write(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "10", "5y", "-3m", "1h30", "99999999999d"])
def test_anything_else_is_an_input_error_quoting_it(text: str) -> None:
    with pytest.raises(InputError, match="duration"):
        parse_duration(text)


@given(st.integers(0, 5000), st.sampled_from("smhdw"))
def test_whole_numbers_of_each_unit(n: int, unit: str) -> None:
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    assert parse_duration(f"{n}{unit}") == timedelta(seconds=n * seconds)


@pytest.mark.parametrize(
    ("seconds", "printed"),
    [(0, "0 s"), (45.4, "45 s"), (60, "1 min"), (719, "11 min"), (3600, "1 h 00 min"),
     (7530, "2 h 05 min"), (21_600, "6 h 00 min")],
)  # fmt: skip
def test_a_duration_is_printed_in_the_unit_an_operator_reads(seconds: float, printed: str) -> None:
    assert report_duration(seconds) == printed
