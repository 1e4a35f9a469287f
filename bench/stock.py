"""Stock TaskFlow, used the way its documentation and examples use it.

Persistence from ``{"connection": url}`` (TaskFlow's own engine: a NullPool on
SQLite, a new ``Connection`` and table metadata per storage call), a ZooKeeper
jobboard from ``taskflow.jobs.backends.fetch``, a conductor from
``taskflow.conductors.backends.fetch``, and jobs posted as in TaskFlow's jobboard
examples: a logbook with one flow detail naming its factory's import path
(``save_factory_details``), then ``board.post``.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from taskflow import engines
from taskflow.conductors import backends as conductor_backends
from taskflow.jobs import backends as job_backends
from taskflow.persistence import backends as persistence_backends
from taskflow.persistence import models

from orchestrator.flows import bench as bench_flows

# The same factories our registry names bench-1-task and bench-10-tasks.
FACTORIES = {
    "bench-1-task": bench_flows.one_task,
    "bench-10-tasks": bench_flows.ten_tasks,
}
KINDS = ("blocking", "nonblocking")


def backend(url: str) -> Any:
    """TaskFlow's SQLAlchemy backend as ``fetch`` builds it, engine and all."""
    return persistence_backends.fetch({"connection": url})


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
