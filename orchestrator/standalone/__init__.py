"""Local services for running orchestrator on one machine (and for its tests)."""

from orchestrator.standalone.zookeeper import (
    LocalZooKeeper,
    ZooKeeperError,
    ZooKeeperStartError,
    ZooKeeperUnavailable,
    find_free_port,
    four_letter_word,
)

__all__ = [
    "LocalZooKeeper",
    "ZooKeeperError",
    "ZooKeeperStartError",
    "ZooKeeperUnavailable",
    "find_free_port",
    "four_letter_word",
]
