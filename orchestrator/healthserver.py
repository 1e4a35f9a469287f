"""Liveness and readiness checks, and the conductor's optional metrics endpoint.

The API serves the same three paths from its own app (``orchestrator.api.health``);
a conductor has no HTTP server of its own, so when ``[conductor] metrics_port``
is set it runs a small threaded WSGI server beside its loop:

* ``/metrics``: its registry, rendered by prometheus_client;
* ``/healthz``: 200 while its loop goes round, 503 once it has not for
  ``LIVENESS_TIMEOUT`` seconds (something blocks it: restart it);
* ``/readyz``: 200 while its ZooKeeper session is connected and its database
  answers, else 503 naming what is not ready (it can claim nothing).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

import persistence
from orchestrator.metrics import ConductorMetrics

LOG = logging.getLogger(__name__)

#: Seconds without a turn of the conductor's loop after which it is not alive.
#: The loop turns at least every ``poll_interval``; a claim or a reconciliation
#: waiting on a database that does not answer holds it up for longer.
LIVENESS_TIMEOUT = 60.0

#: A check's answer when all is well; anything else says what is wrong.
OK = "ok"

Check = Callable[[], str | None]


@dataclass(frozen=True)
class HealthEndpoint:
    """Where a conductor serves /metrics, /healthz and /readyz."""

    host: str = "127.0.0.1"
    port: int = 0


def database_problem(database: persistence.Database) -> str | None:
    """Why the database cannot serve now, or None.

    A lookup by primary key that finds nothing: the cheapest query that
    shows the job table answers.
    """
    try:
        with database.session() as session:
            persistence.get_job(session, "")
    except persistence.PersistenceError as exc:
        return str(exc)
    return None


def readiness(checks: Mapping[str, Check]) -> tuple[bool, dict[str, Any]]:
    """Run each check; whether all passed, and the body that says so."""
    results = {name: check() or OK for name, check in checks.items()}
    failed = [name for name, result in results.items() if result != OK]
    body: dict[str, Any] = {"status": "not ready" if failed else "ready",
                            "checks": results}
    if failed:
        body["not_ready"] = failed
    return not failed, body


def conductor_checks(metrics: ConductorMetrics,
                     database: persistence.Database) -> dict[str, Check]:
    def zookeeper() -> str | None:
        state = metrics.session
        return None if state == "connected" else f"the ZooKeeper session is {state}"

    return {"database": lambda: database_problem(database), "zookeeper": zookeeper}


def conductor_app(metrics: ConductorMetrics, checks: Mapping[str, Check]) -> Any:
    """The WSGI app of a conductor's endpoint."""
    exposition = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            result: Iterable[bytes] = exposition(environ, start_response)
            return result
        if path == "/healthz":
            age = metrics.since_beat()
            alive = age < LIVENESS_TIMEOUT
            return _json(start_response, 200 if alive else 503,
                         {"status": "ok" if alive else "stuck",
                          "loop_seconds_ago": round(age, 3)})
        if path == "/readyz":
            ready, body = readiness(checks)
            return _json(start_response, 200 if ready else 503, body)
        return _json(start_response, 404, {"error": {
            "status": 404, "code": "not_found",
            "message": f"no such resource: {path} (try /metrics, /healthz, /readyz)"}})

    return app


def _json(start_response: Any, status: int, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(data)))])
    return [data]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    # A slow scrape must not hold up a liveness probe.
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    """Requests go to the debug log, not to stderr (a probe every few seconds)."""

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s %s", self.address_string(), format % args)


@contextlib.contextmanager
def serving(endpoint: HealthEndpoint | None, app: Any, name: str) -> Iterator[None]:
    """Serve ``app`` on ``endpoint`` in a daemon thread while the block runs.

    ``None`` serves nothing. A port that cannot be bound is a ``ListenError``,
    raised before the block starts.
    """
    if endpoint is None:
        yield
        return
    try:
        server = make_server(endpoint.host, endpoint.port, app,
                             server_class=_ThreadingServer, handler_class=_QuietHandler)
    except OSError as exc:
        from orchestrator.httpserver import ListenError

        raise ListenError(name, endpoint.host, endpoint.port,
                          exc.strerror or str(exc)) from exc
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.5},
                              daemon=True, name=f"{name}-endpoint")
    thread.start()
    host, port = server.server_address[:2]
    LOG.warning("%s serving /metrics, /healthz and /readyz on http://%s:%s", name,
                host, port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
