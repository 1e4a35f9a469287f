"""SQL statements, transactions and new connections per job, counted in-process.

Each system's conductor runs in a thread of this process on its own engine,
with SQLAlchemy event counters on that engine: ours is the engine of the
``persistence.Database`` that ``orchestrator.daemon.run_conductor`` is given
(TaskFlow's backend and our job records share it); stock is the engine TaskFlow's
``SQLAlchemyBackend`` builds from ``{"connection": url}``. The poster has an
engine of its own, counted separately. After one warm-up job, ``jobs`` more are
posted one at a time; each is waited for until it has left the board.
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
from bench.workload import Observer
from orchestrator import Orchestrator, daemon
from orchestrator.conductor import ConductorSettings
from orchestrator.registry import FlowRegistry

_TIMEOUT = 60.0


@dataclass(frozen=True)
class Counts:
    statements: float = 0
    transactions: float = 0
    connections: float = 0

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.statements - other.statements,
                      self.transactions - other.transactions,
                      self.connections - other.connections)

    def __truediv__(self, n: float) -> Counts:
        return Counts(self.statements / n, self.transactions / n, self.connections / n)


class Counter:
    """Counts what an engine sends: cursor executions, BEGINs, new DBAPI connections."""

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        self._statements = self._transactions = self._connections = 0
        event.listen(engine, "before_cursor_execute", self._on_statement)
        event.listen(engine, "begin", self._on_begin)
        event.listen(engine, "connect", self._on_connect)

    def snapshot(self) -> Counts:
        with self._lock:
            return Counts(self._statements, self._transactions, self._connections)

    def _on_statement(self, *_args: Any) -> None:
        with self._lock:
            self._statements += 1

    def _on_begin(self, *_args: Any) -> None:
        with self._lock:
            self._transactions += 1

    def _on_connect(self, *_args: Any) -> None:
        with self._lock:
            self._connections += 1


@dataclass(frozen=True)
class SqlResult:
    conductor: Counts  # per job
    post: Counts  # per job


def measure(system: str, backend: str, flow: str, services: svc.Services, run_dir: Path,
            *, jobs_to_count: int = 3, stock_kind: str = "blocking") -> SqlResult:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = svc.board_path()
    with services.database(backend, run_dir) as url:
        runner = _ours if system == "ours" else _stock_runner(stock_kind)
        observer = Observer(url)
        try:
            with runner(url, services.zk_hosts, path) as (post, post_counter, cond_counter):
                post(flow)
                _wait_done(observer, services, path, 1)
                post_before, cond_before = post_counter.snapshot(), cond_counter.snapshot()
                for n in range(2, jobs_to_count + 2):
                    post(flow)
                    _wait_done(observer, services, path, n)
                post_total = post_counter.snapshot() - post_before
                cond_total = cond_counter.snapshot() - cond_before
        finally:
            observer.close()
    return SqlResult(conductor=cond_total / jobs_to_count, post=post_total / jobs_to_count)


_Runner = Iterator[tuple[Callable[[str], object], Counter, Counter]]


@contextmanager
def _ours(url: str, hosts: str, path: str) -> _Runner:
    registry = FlowRegistry.from_entry_points()
    board = jobs.JobboardSettings(hosts=(hosts,), path=path)
    poster_db = persistence.Database(url)
    poster_db.upgrade()
    conductor_db = persistence.Database(url)
    stop = threading.Event()
    thread = threading.Thread(
        target=daemon.run_conductor,
        args=(ConductorSettings(name="count-ours", poll_interval=0.05), conductor_db,
              registry, board, stop),
        name="count-ours", daemon=True)
    try:
        post_counter, cond_counter = Counter(poster_db.engine), Counter(conductor_db.engine)
        with Orchestrator(poster_db, registry, board, client_name="count-poster") as orch:
            thread.start()
            yield orch.post, post_counter, cond_counter
    finally:
        stop.set()
        if thread.is_alive():
            thread.join(timeout=_TIMEOUT)
        conductor_db.close()
        poster_db.close()


def _stock_runner(kind: str) -> Callable[[str, str, str], Any]:
    @contextmanager
    def _stock(url: str, hosts: str, path: str) -> _Runner:
        stock.upgrade(url)
        with contextlib.ExitStack() as stack:
            poster_backend = stock.backend(url)
            stack.callback(poster_backend.close)
            conductor_backend = stock.backend(url)
            stack.callback(conductor_backend.close)
            post_counter = Counter(poster_backend.engine)
            cond_counter = Counter(conductor_backend.engine)
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
            yield (lambda flow: stock.post(poster_backend, poster_board, flow),
                   post_counter, cond_counter)

    return _stock


def _wait_done(observer: Observer, services: svc.Services, path: str, n: int) -> None:
    """Until ``n`` flows have finished and their jobs are off the board."""
    deadline = time.monotonic() + _TIMEOUT
    while observer.finished() < n or svc.job_nodes(services.client, path):
        if time.monotonic() >= deadline:
            raise RuntimeError(f"job {n} did not finish within {_TIMEOUT:g}s")
        time.sleep(0.05)
