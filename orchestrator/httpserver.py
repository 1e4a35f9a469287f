"""Serving a FastAPI app with uvicorn, for the agent and the API daemons."""

from __future__ import annotations

import contextlib
import errno
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType

import uvicorn
from fastapi import FastAPI

from orchestrator.errors import OrchestratorError

LOG = logging.getLogger(__name__)
#: uvicorn's default backlog.
_BACKLOG = 2048


class ListenError(OrchestratorError):
    """The daemon cannot listen on its address (port in use, address not local)."""

    retryable = True  # the port may be free again later

    def __init__(self, name: str, host: str, port: int, reason: str) -> None:
        super().__init__(f"{name} cannot listen on {host}:{port}: {reason}")
        self.host = host
        self.port = port
        self.reason = reason


def url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(app: FastAPI, host: str, port: int, *, name: str, what: str,
          graceful_timeout: int = 5) -> None:
    """Serve ``app`` on ``host:port`` until SIGTERM, SIGINT or SIGHUP; then return.

    The socket is bound here first, so that a port in use is a
    ``ListenError`` rather than uvicorn exiting the process. Requests still
    open at the signal get ``graceful_timeout`` seconds to finish.
    """
    sock = bind(name, host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    config = uvicorn.Config(app, log_config=None, lifespan="off", access_log=True,
                            timeout_graceful_shutdown=graceful_timeout)
    server = _Server(config, name)
    LOG.warning("%s serving %s on %s", name[:1].upper() + name[1:], what,
                url(bound_host, bound_port))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    LOG.warning("%s stopped serving", name[:1].upper() + name[1:])


def bind(name: str, host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` as the server binds it; ``ListenError`` if it cannot be."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(name, host, port, f"cannot resolve {host!r}: {exc}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a restart may reuse the port while old connections linger.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        reason = (f"address already in use (another {name}?)"
                  if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc))
        raise ListenError(name, host, port, reason) from exc
    # Listening now, not once uvicorn starts: whoever reads "serving" in the
    # log and connects at once is queued, not refused.
    sock.listen(_BACKLOG)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, minus re-raising the stop signal once it has stopped.

    uvicorn re-delivers SIGINT/SIGTERM after a graceful shutdown, which would
    end the process by the signal (or KeyboardInterrupt) instead of exit 0.
    """

    def __init__(self, config: uvicorn.Config, name: str) -> None:
        super().__init__(config)
        self._name = name

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in stop_signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            LOG.warning("%s received: stopping the %s", signal.Signals(signum).name,
                        self._name)
        # A second SIGINT forces the exit, as in uvicorn.
        self.handle_exit(signal.SIGINT if signum == signal.SIGINT else signal.SIGTERM,
                         frame)
