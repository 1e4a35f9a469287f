"""The ZooKeeper client a board opens: kazoo, its connection thread waiting with poll(2)."""

from __future__ import annotations

import math
import select
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kazoo import client as kazoo_client
from kazoo.handlers.threading import SequentialThreadingHandler
from kazoo.handlers.utils import fileobj_to_fd

if TYPE_CHECKING:
    from jobs.board import JobboardSettings

_POLL_IN = select.POLLIN | select.POLLPRI
_POLL_OUT = select.POLLOUT
# A failed or hung-up socket is ready for whatever was asked of it: the recv or
# send that follows reports the failure, and kazoo drops the connection.
_POLL_FAILED = select.POLLERR | select.POLLHUP | select.POLLNVAL


def poll_select(rlist: Sequence[Any], wlist: Sequence[Any], xlist: Sequence[Any],
                timeout: float | None = None) -> tuple[list[Any], list[Any], list[Any]]:
    """``select.select``'s contract, met with one ``poll(2)``: what kazoo's handler must do.

    ``timeout`` is in seconds (``None`` waits for ever, negative is an error, as
    in kazoo). ``xlist`` is never waited on: kazoo passes none. A TLS socket
    holding decrypted bytes is readable at once, as its descriptor may have
    nothing more to say; kazoo's loop would otherwise leave a reply that came
    in the same TLS record as the one before until the next ping.
    """
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be non-negative")
    reads = [(obj, fileobj_to_fd(obj)) for obj in rlist]
    writes = [(obj, fileobj_to_fd(obj)) for obj in wlist]
    masks: dict[int, int] = {}
    for _obj, fd in reads:
        masks[fd] = _POLL_IN
    for _obj, fd in writes:
        masks[fd] = masks.get(fd, 0) | _POLL_OUT
    poller = select.poll()
    for fd, mask in masks.items():
        poller.register(fd, mask)
    # kazoo's own test for a TLS socket holding bytes (connection.py, _read).
    buffered = [obj for obj, _fd in reads if hasattr(obj, "pending") and obj.pending() > 0]
    # Milliseconds, rounded up: rounding down would spin on sub-millisecond waits.
    wait = None if timeout is None else math.ceil(timeout * 1000)
    ready = dict(poller.poll(0 if buffered else wait))
    readable = [obj for obj, fd in reads
                if obj in buffered or ready.get(fd, 0) & (_POLL_IN | _POLL_FAILED)]
    writable = [obj for obj, fd in writes if ready.get(fd, 0) & (_POLL_OUT | _POLL_FAILED)]
    return readable, writable, []


class PollHandler(SequentialThreadingHandler):  # type: ignore[misc]
    """kazoo's threading handler, its connection thread waiting with ``poll(2)``.

    kazoo's own handler builds an epoll selector, registers the sockets, waits
    and closes the selector again every time its connection thread waits:
    three more system calls and Python's selector machinery per wait, nearly
    half of that thread's CPU under load. ``poll`` needs no kernel object and,
    unlike ``select(2)`` (which kazoo left for this reason), takes descriptors
    of any number. Everything else, TLS included, is kazoo's. docs/scale.md
    has the figures.
    """

    name = "orchestrator_poll_handler"

    def select(self, rlist: Sequence[Any], wlist: Sequence[Any], xlist: Sequence[Any],
               timeout: float | None = None) -> tuple[list[Any], list[Any], list[Any]]:
        return poll_select(rlist, wlist, xlist, timeout)


# Reconnect forever, and at least once a second: a conductor outlives a
# ZooKeeper outage, and a restarted server forgets a session that does not
# come back within its timeout (kazoo's default backoff waits up to a minute).
CONNECTION_RETRY: dict[str, float] = {"max_tries": -1, "delay": 0.1, "backoff": 2,
                                      "max_delay": 1.0}


def make_client(settings: JobboardSettings) -> kazoo_client.KazooClient:
    kwargs: dict[str, Any] = {
        "hosts": settings.hosts_string,
        "timeout": settings.session_timeout,
        "handler": PollHandler(),
        "connection_retry": dict(CONNECTION_RETRY),
    }
    if settings.username:
        kwargs["auth_data"] = [("digest", f"{settings.username}:{settings.password or ''}")]
    if settings.use_ssl:
        kwargs.update(
            use_ssl=True,
            ca=settings.ca_file,
            certfile=settings.cert_file,
            keyfile=settings.key_file,
            keyfile_password=settings.key_password,
            verify_certs=settings.verify_certs,
        )
    return kazoo_client.KazooClient(**kwargs)
