"""Real services run by the test fixtures (ZooKeeper lives in the product)."""

from tests.services.outage import (
    Pausable,
    Restartable,
    down_for,
    is_listening,
    paused_for,
    take_down,
)
from tests.services.postgres import (
    LocalPostgres,
    PostgresStartError,
    PostgresUnavailable,
    find_bin_dir,
)

__all__ = [
    "LocalPostgres",
    "Pausable",
    "PostgresStartError",
    "PostgresUnavailable",
    "Restartable",
    "down_for",
    "find_bin_dir",
    "is_listening",
    "paused_for",
    "take_down",
]
