"""What a conductor sends its database per job: statements, transactions, connections.

Each system's conductor runs in a thread of this process on an engine of its
own, with SQLAlchemy event counters on that engine: ours is the engine of the
``persistence.Database`` that ``orchestrator.daemon.run_conductor`` is given,
opened as ``orchestrator conductor`` opens it (no pre-ping; TaskFlow's backend
and our job records share it); stock and tables-once use the engine of the
TaskFlow backend ``bench.stock.backend`` builds. Jobs are posted from a
separate engine (not counted here). After one warm-up job, ``jobs`` more are
posted one at a time; each is waited for until it has left the board.

Counted: statements SQLAlchemy executes (``before_cursor_execute``),
transactions it begins (``begin``, explicit or autobegin), new DBAPI
connections (``connect``) and, on an engine with ``pool_pre_ping`` (the
poster's, API and CLI, on PostgreSQL), the pings it sends on checkout (one per checkout of a pooled
connection, which is every checkout but a connection's first). Pings and the
SQLite pragmas run on each new connection go through the DBAPI cursor, not
through SQLAlchemy's execution events: they are reported as extra round trips.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

import jobs
import persistence
from bench import services as svc
from bench import stock
from bench.workload import OURS, TABLES_ONCE, Observer
from orchestrator import Orchestrator, daemon
from orchestrator.conductor import ConductorSettings
from orchestrator.registry import FlowRegistry
from persistence.engine import SQLITE_PRAGMAS

_TIMEOUT = 60.0


@dataclass(frozen=True)
class Counts:
    statements: float = 0
    transactions: float = 0
    connections: float = 0
    pings: float = 0
    pragmas: float = 0  # SQLite pragmas run on new connections

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.statements - other.statements,
                      self.transactions - other.transactions,
                      self.connections - other.connections,
                      self.pings - other.pings,
                      self.pragmas - other.pragmas)

    def __truediv__(self, n: float) -> Counts:
        return Counts(self.statements / n, self.transactions / n, self.connections / n,
                      self.pings / n, self.pragmas / n)

    @property
    def extra(self) -> float:
        """Round trips that are not SQLAlchemy statements: pings and pragmas."""
        return self.pings + self.pragmas


class Counter:
    """Counts what an engine sends (see the module docstring)."""

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        self._statements = self._transactions = self._connections = self._checkouts = 0
        # SQLAlchemy keeps the pre-ping flag on the pool; no public accessor.
        self._pre_ping = bool(getattr(engine.pool, "_pre_ping", False))
        self._pragmas_per_connection = (len(SQLITE_PRAGMAS)
                                        if engine.dialect.name == "sqlite" else 0)
        event.listen(engine, "before_cursor_execute", self._on_statement)
        event.listen(engine, "begin", self._on_begin)
        event.listen(engine, "connect", self._on_connect)
        event.listen(engine, "checkout", self._on_checkout)

    def snapshot(self) -> Counts:
        with self._lock:
            pings = self._checkouts - self._connections if self._pre_ping else 0
            return Counts(self._statements, self._transactions, self._connections,
                          max(pings, 0), self._connections * self._pragmas_per_connection)

    def _on_statement(self, *_args: Any) -> None:
        with self._lock:
            self._statements += 1

    def _on_begin(self, *_args: Any) -> None:
        with self._lock:
            self._transactions += 1

    def _on_connect(self, *_args: Any) -> None:
        with self._lock:
            self._connections += 1

    def _on_checkout(self, *_args: Any) -> None:
        with self._lock:
            self._checkouts += 1


def measure(system: str, backend: str, flow: str, services: svc.Services, run_dir: Path,
            *, jobs_to_count: int = 3, stock_kind: str = "blocking") -> Counts:
    """The conductor's counts per job of ``flow`` (divide by its tasks for per task)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = svc.board_path()
    with services.database(backend, run_dir) as url:
        runner: Callable[[str, str, str], Any] = (
            _ours if system == OURS
            else _stock_runner(stock_kind, tables_once=system == TABLES_ONCE))
        observer = Observer(url)
        try:
            with runner(url, services.zk_hosts, path) as (post, counter):
                post(flow)
                _wait_done(observer, services, path, 1)
                before = counter.snapshot()
                for n in range(2, jobs_to_count + 2):
                    post(flow)
                    _wait_done(observer, services, path, n)
                total = counter.snapshot() - before
        finally:
            observer.close()
    return total / jobs_to_count


_Runner = Iterator[tuple[Callable[[str], object], Counter]]


@contextmanager
def _ours(url: str, hosts: str, path: str) -> _Runner:
    registry = FlowRegistry.from_entry_points()
    board = jobs.JobboardSettings(hosts=(hosts,), path=path)
    poster_db = persistence.Database(url)
    poster_db.upgrade()
    # As `orchestrator conductor` opens it: no ping per checkout.
    conductor_db = persistence.Database(url, ping=False)
    stop = threading.Event()
    thread = threading.Thread(
        target=daemon.run_conductor,
        args=(ConductorSettings(name="count-ours", poll_interval=0.05), conductor_db,
              registry, board, stop),
        name="count-ours", daemon=True)
    try:
        counter = Counter(conductor_db.engine)
        with Orchestrator(poster_db, registry, board, client_name="count-poster") as orch:
            thread.start()
            yield orch.post, counter
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(timeout=_TIMEOUT)
        conductor_db.close()
        poster_db.close()


def _stock_runner(kind: str, *, tables_once: bool) -> Callable[[str, str, str], Any]:
    @contextmanager
    def _stock(url: str, hosts: str, path: str) -> _Runner:
        stock.upgrade(url)
        with contextlib.ExitStack() as stack:
            poster_backend = stock.backend(url, tables_once=tables_once)
            stack.callback(poster_backend.close)
            conductor_backend = stock.backend(url, tables_once=tables_once)
            stack.callback(conductor_backend.close)
            counter = Counter(conductor_backend.engine)
            poster_board = stock.board("count-poster", hosts, path, poster_backend)
            stack.callback(poster_board.close)
            conductor_board = stock.board("count-stock", hosts, path, conductor_backend)
            stack.callback(conductor_board.close)
            conductor = stock.conductor(kind, "count-stock", conductor_board,
                                        conductor_backend, 0.05, 4)
            thread = threading.Thread(target=conductor.run, name="count-stock", daemon=True)
            thread.start()
            stack.callback(thread.join, _TIMEOUT)
            stack.callback(conductor.stop)
            yield (lambda flow: stock.post(poster_backend, poster_board, flow)), counter

    return _stock


def _wait_done(observer: Observer, services: svc.Services, path: str, n: int) -> None:
    """Until ``n`` flows have finished and their jobs are off the board."""
    deadline = time.monotonic() + _TIMEOUT
    while observer.finished() < n or svc.job_nodes(services.client, path):
        if time.monotonic() >= deadline:
            raise RuntimeError(f"job {n} did not finish within {_TIMEOUT:g}s")
        time.sleep(0.05)
