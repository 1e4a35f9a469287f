"""The web page's tests: one SQLite deployment each, and a headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional.browser import Browser, chromium


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """SQLite only: the page is what is under test here, not the database."""
    return sqlite_url


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    with chromium(tmp_path / "chromium") as started:
        yield started
        # Every test also checks that the page's scripts raised nothing.
        assert started.script_errors() == []
