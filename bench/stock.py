"""Stock TaskFlow as its documentation uses it, and with the one fix a user could make.

``stock``: persistence from ``{"connection": url}`` (TaskFlow's own engine: a
NullPool on SQLite, a new ``Connection`` and table metadata per storage call), a
ZooKeeper jobboard from ``taskflow.jobs.backends.fetch``, a conductor from
``taskflow.conductors.backends.fetch``, and jobs posted as in TaskFlow's jobboard
examples: a logbook with one flow detail naming its factory's import path
(``save_factory_details``), then ``board.post``.

``tables-once``: the same, except that the SQLAlchemy backend hands out one
``Connection`` built once (so the table metadata is built once and SQLAlchemy's
statement cache works) and, on SQLite, pools its connections: the ten-line fix
``persistence.taskflow_backend.CachedConnectionBackend`` applies for us.

On SQLite every engine gets the pragmas ours sets (``persistence.engine``): WAL,
``synchronous=NORMAL``, ``busy_timeout``, foreign keys. Only the journal mode is
kept in the file; the others are per connection, so they run on every new one.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import QueuePool
from taskflow import engines
from taskflow.conductors import backends as conductor_backends
from taskflow.jobs import backends as job_backends
from taskflow.persistence import backends as persistence_backends
from taskflow.persistence import models
from taskflow.persistence.backends.impl_sqlalchemy import SQLAlchemyBackend

from orchestrator.flows import bench as bench_flows
from persistence.engine import apply_sqlite_pragmas

# The same factories our registry names bench-1-task and bench-10-tasks.
FACTORIES = {
    "bench-1-task": bench_flows.one_task,
    "bench-10-tasks": bench_flows.ten_tasks,
}
KINDS = ("blocking", "nonblocking")


class TablesOnceBackend(SQLAlchemyBackend):
    """TaskFlow's SQLAlchemy backend whose ``get_connection()`` returns one cached object.

    A TaskFlow ``Connection`` keeps no per-call state and its ``close()`` does
    nothing, so one instance can serve every caller and thread.
    """

    def __init__(self, conf: dict[str, Any]) -> None:
        super().__init__(conf)
        self._cached: Any = None
        self._cached_lock = threading.Lock()

    def get_connection(self) -> Any:
        with self._cached_lock:
            if self._cached is None:
                self._cached = super().get_connection()
            return self._cached


def backend(url: str, *, tables_once: bool = False) -> Any:
    """TaskFlow's SQLAlchemy backend for ``url``, stock or with its tables built once."""
    conf: dict[str, Any] = {"connection": url}
    sqlite = url.startswith("sqlite")
    if tables_once:
        if sqlite:
            # TaskFlow gives SQLite files a NullPool (a new connection per call).
            conf["engine_args"] = {"poolclass": QueuePool,
                                   "connect_args": {"check_same_thread": False}}
        be: Any = TablesOnceBackend(conf)
    else:
        be = persistence_backends.fetch(conf)
    if sqlite:
        event.listen(be.engine, "connect", apply_sqlite_pragmas)
    return be


def sqlite_settings(engine: Engine) -> str:
    """The pragmas a new connection of ``engine`` reports, for the report."""
    names = ("journal_mode", "synchronous", "busy_timeout", "foreign_keys")
    with engine.connect() as conn:
        values = [str(conn.exec_driver_sql(f"PRAGMA {name}").scalar()) for name in names]
    return ", ".join(f"{name}={value}" for name, value in zip(names, values, strict=True))


def upgrade(url: str) -> None:
    """Create TaskFlow's tables (its own migrations; ``create_all`` on SQLite)."""
    be = backend(url)
    try:
        with contextlib.closing(be.get_connection()) as conn:
            conn.upgrade()
    finally:
        be.close()


def board(name: str, hosts: str, path: str, persistence: Any) -> Any:
    """A connected ZooKeeper jobboard (``check_compatible`` off: ZooKeeper 3.5+
    refuses the ``envi`` command it sends)."""
    conf = {"board": "zookeeper", "hosts": hosts, "path": path, "check_compatible": False}
    jobboard = job_backends.fetch(name, conf, persistence=persistence)
    jobboard.connect()
    return jobboard


def conductor(kind: str, name: str, jobboard: Any, persistence: Any,
              wait_timeout: float, max_jobs: int) -> Any:
    if kind not in KINDS:
        raise ValueError(f"unknown conductor kind {kind!r}; choose from {KINDS}")
    return conductor_backends.fetch(
        kind, name, jobboard, persistence=persistence, engine="serial",
        wait_timeout=wait_timeout,
        max_simultaneous_jobs=1 if kind == "blocking" else max_jobs,
    )


def post(persistence: Any, jobboard: Any, flow_name: str) -> Any:
    """Post one job for ``flow_name`` the stock way; return the board's job."""
    factory = FACTORIES[flow_name]
    book = models.LogBook(f"bench-{uuid.uuid4()}")
    flow_detail = models.FlowDetail(flow_name, uuid=str(uuid.uuid4()))
    book.add(flow_detail)
    with contextlib.closing(persistence.get_connection()) as conn:
        conn.save_logbook(book)
    engines.save_factory_details(flow_detail, factory, [], {}, backend=persistence)
    return jobboard.post(flow_name, book=book,
                         details={"flow_uuid": flow_detail.uuid, "store": {}})
