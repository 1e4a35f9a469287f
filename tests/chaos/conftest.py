"""Fixtures of the chaos tier: kazoo clients that remember their state changes.

The services themselves (``private_zookeeper``, ``private_postgres``,
``zookeeper_ensemble``) are in ``tests/conftest.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from kazoo.client import KazooClient, KazooState

from jobs.zkclient import CONNECTION_RETRY


class WatchedClient:
    """A started kazoo client and every connection state it went through."""

    def __init__(self, hosts: str, timeout: float) -> None:
        self.client = KazooClient(hosts=hosts, timeout=timeout,
                                  connection_retry=dict(CONNECTION_RETRY))
        self._lock = threading.Lock()
        self._states: list[str] = []
        # Called on kazoo's connection thread, hence the lock.
        self.client.add_listener(self._record)

    def _record(self, state: str) -> None:
        with self._lock:
            self._states.append(state)

    @property
    def states(self) -> list[str]:
        """``CONNECTED``/``SUSPENDED``/``LOST`` transitions, oldest first."""
        with self._lock:
            return list(self._states)

    @property
    def session_id(self) -> int:
        client_id = self.client.client_id
        assert client_id is not None, "the client has no session"
        session_id: int = client_id[0]
        return session_id

    def connected(self) -> bool:
        return bool(self.client.state == KazooState.CONNECTED)

    def went_through(self, *states: str) -> bool:
        """True once ``states`` happened in this order (others may come between)."""
        seen = iter(self.states)
        return all(state in seen for state in states)


@pytest.fixture
def watched_client() -> Iterator[Callable[..., WatchedClient]]:
    """Start kazoo clients (``watched_client(hosts, timeout=10.0)``), closed at the end."""
    clients: list[WatchedClient] = []

    def start(hosts: str, timeout: float = 10.0) -> WatchedClient:
        watched = WatchedClient(hosts, timeout)
        clients.append(watched)
        watched.client.start(timeout=30.0)
        return watched

    yield start
    for watched in clients:
        watched.client.stop()
        watched.client.close()
