"""The API's /metrics, /healthz and /readyz.

None of them asks for the API token: Prometheus and load balancers carry
none, and they tell nothing a job's owner would keep secret (counts by
state, whether the database and ZooKeeper answer). Keep the API behind a
network that only the operators' tools reach, as with the token-less
standalone mode.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

import jobs
import persistence
from orchestrator.healthserver import Check, database_problem, readiness
from orchestrator.metrics import JobStateCollector, SessionStateCollector, session_state

LOG = logging.getLogger(__name__)

#: Longest a probe or a scrape waits for ZooKeeper to accept a session.
CONNECT_TIMEOUT = 2.0
#: Seconds after a failed connection before a probe tries again (in the
#: meantime ZooKeeper is reported unreachable at once).
RETRY_INTERVAL = 5.0


class ApiHealth:
    """The database and a ZooKeeper session of the API's own, as probes and metrics.

    The session is this object's, not the service's: the service opens its
    board only when a request needs it, and readiness must not depend on
    whether one did. It is opened at the first probe or scrape, and kazoo
    keeps it (or a new one) connected afterwards.
    """

    def __init__(self, database: persistence.Database,
                 board_settings: jobs.JobboardSettings) -> None:
        self._db = database
        self._board_settings = dataclasses.replace(
            board_settings,
            connect_timeout=min(board_settings.connect_timeout, CONNECT_TIMEOUT))
        self._board: jobs.Board | None = None
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._failure = ""
        self._session = "lost"
        self.registry = CollectorRegistry()
        self.registry.register(JobStateCollector(database))
        self.registry.register(SessionStateCollector(self.session_state))

    def checks(self) -> dict[str, Check]:
        return {"database": lambda: database_problem(self._db),
                "zookeeper": self.zookeeper_problem}

    def session_state(self) -> str:
        """connected, suspended or lost (none could be opened)."""
        self._connect()
        return self._session

    def zookeeper_problem(self) -> str | None:
        if not self._connect():
            return self._failure
        state = self._session
        return None if state == "connected" else f"the ZooKeeper session is {state}"

    def _connect(self) -> bool:
        with self._lock:
            if self._board is not None:
                return True
            if time.monotonic() < self._retry_at:
                return False
            try:
                board = jobs.Board(self._board_settings, "api-health", watch=False)
                board.add_state_listener(self._on_session)
                self._board = board.connect()
            except jobs.BoardUnavailable as exc:
                self._retry_at = time.monotonic() + RETRY_INTERVAL
                self._failure = str(exc)
                LOG.warning("Health: %s", exc)
                return False
            self._session = session_state(jobs.CONNECTED if board.connected
                                          else jobs.SUSPENDED)
            return True

    def _on_session(self, state: str) -> None:
        self._session = session_state(state)

    def close(self) -> None:
        with self._lock:
            if self._board is not None:
                self._board.close()
                self._board = None


def health_router(health: ApiHealth) -> APIRouter:
    """Routes outside /v1 and without authentication (see the module's docstring)."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(health.registry), media_type=CONTENT_TYPE_LATEST)

    @router.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """Liveness: the process serves requests."""
        return {"status": "ok"}

    @router.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        """Readiness: the database answers and ZooKeeper is reachable."""
        ready, body = readiness(health.checks())
        return JSONResponse(body, status_code=200 if ready else 503)

    return router
