from __future__ import annotations

from collections.abc import Iterator

import pytest

from persistence import Database


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    """A migrated SQLite database in a file of the test's own."""
    database = Database(sqlite_url)
    database.upgrade()
    try:
        yield database
    finally:
        database.close()
