"""Outages of a real service: stop it (and prove it is down), keep it down, start it.

Works with anything that has ``host``, ``port``, ``start()`` and ``stop()`` and keeps
its port and data across a restart: ``LocalZooKeeper`` and ``LocalPostgres``.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from tests.helpers import wait_for

#: Seconds a stopped service gets to release its port.
PORT_RELEASE_TIMEOUT = 10.0


class Restartable(Protocol):
    """A server that can be stopped and started again on the same port and data."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Pausable(Protocol):
    """A server whose processes can be frozen (SIGSTOP) and thawed (SIGCONT)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...


def is_listening(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections on ``host:port``.

    A frozen server still counts: the kernel completes its handshakes.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def take_down(service: Restartable, timeout: float = PORT_RELEASE_TIMEOUT) -> None:
    """Stop ``service`` and check that nothing listens on its port any more.

    Raises ``AssertionError`` if the port is still served after ``timeout``: an
    outage whose server is secretly alive would prove nothing.
    """
    service.stop()
    wait_for(
        lambda: not is_listening(service.host, service.port, timeout=0.5),
        timeout=timeout,
        message=f"{service.host}:{service.port} to stop listening",
    )


@contextmanager
def down_for(service: Restartable, seconds: float = 0.0) -> Iterator[None]:
    """Keep ``service`` down for the block, and for at least ``seconds`` in all.

    The server is stopped (and checked to be down) on entry, started again on exit,
    on the same port with the same data; the block runs while it is down.
    """
    take_down(service)
    down_since = time.monotonic()
    try:
        yield
    finally:
        remaining = seconds - (time.monotonic() - down_since)
        if remaining > 0:
            # The outage's length is the scenario itself, not a guess at a delay.
            time.sleep(remaining)
        service.start()


@contextmanager
def paused_for(service: Pausable, seconds: float = 0.0) -> Iterator[None]:
    """Freeze ``service`` for the block, and for at least ``seconds`` in all."""
    service.pause()
    paused_since = time.monotonic()
    try:
        yield
    finally:
        remaining = seconds - (time.monotonic() - paused_since)
        if remaining > 0:
            time.sleep(remaining)  # the length of the freeze is the scenario
        service.resume()
