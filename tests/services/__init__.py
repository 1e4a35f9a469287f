"""Real services run by the test fixtures (ZooKeeper lives in the product)."""

from tests.services.postgres import (
    LocalPostgres,
    PostgresStartError,
    PostgresUnavailable,
    find_bin_dir,
)

__all__ = ["LocalPostgres", "PostgresStartError", "PostgresUnavailable", "find_bin_dir"]
