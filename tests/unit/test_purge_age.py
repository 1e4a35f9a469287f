"""The ages ``orchestrator db purge --older-than`` accepts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from orchestrator.cli.db_cmd import parse_age


@pytest.mark.parametrize(("text", "age"), [
    ("30d", timedelta(days=30)),
    ("30", timedelta(days=30)),
    ("12h", timedelta(hours=12)),
    ("90M", timedelta(minutes=90)),
    ("45s", timedelta(seconds=45)),
    ("1.5d", timedelta(hours=36)),
    (" 0 ", timedelta(0)),
])
def test_ages_with_a_unit_or_in_days(text: str, age: timedelta) -> None:
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["", "d", "30x", "-3d", "3w", "30 days", "1.5.2h"])
def test_anything_else_is_refused_with_the_forms_an_age_takes(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not an age: give a number and one of s, m, h, d"):
        parse_age(text)
