"""ZooKeeper requests an idle conductor sends while other conductors hold N jobs.

For each variant and N: a fresh board path and database; a holder session of
the variant's own board code posts N jobs and claims every one (creates its
``.lock`` node), as another conductor would while running them; then one
conductor process of the variant is started. It can claim nothing, so
whatever it sends ZooKeeper is the cost of watching the board.

The count is ZooKeeper's own: the ``cons`` four-letter word lists every client
connection with the number of requests the server has received on it
(``recved``, pings included) and its session id. The conductor's sessions are
those that appear once it is started (a conductor that opened more than one
session is summed over all of them). After it has registered and ``settle``
seconds have passed (it reads the N postings once as it starts), ``recved``
and the process's CPU time are read twice, ``window`` seconds apart.

Pings: kazoo pings after a third of the session timeout without traffic
(ours: 2 s sessions, about 1.5 pings/s; TaskFlow: kazoo's default 10 s, 0.3/s).
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import jobs
from bench import services as svc
from bench import stock
from bench.workload import OURS, ConductorGroup, RunFailed, Settings, System

_TIMEOUT = 60.0


@dataclass(frozen=True)
class Variant:
    label: str
    system: str  # OURS or STOCK
    poll_interval: float  # ours: poll_interval; stock: wait_timeout


@dataclass
class IdleResult:
    variant: Variant
    jobs: int
    requests_per_s: float | None = None
    cpu_percent: float | None = None  # of one core, over the window
    sessions: int = 0
    session_timeout_ms: int | None = None
    error: str | None = None


def measure(variant: Variant, system: System, n_jobs: int, backend: str,
            services: svc.Services, settings: Settings, run_dir: Path, *,
            settle: float, window: float) -> IdleResult:
    """One idle measurement; a failure is recorded in the result, not raised."""
    result = IdleResult(variant, n_jobs)
    run_dir.mkdir(parents=True, exist_ok=True)
    settings = dataclasses.replace(settings, poll_interval=variant.poll_interval)
    path = svc.board_path()
    holder = _ours_holder if variant.system == OURS else _stock_holder
    try:
        with services.database(backend, run_dir) as url:
            system.prepare(url)
            with holder(services.zk_hosts, path, n_jobs), ConductorGroup(run_dir) as group:
                if svc.lock_nodes(services.client, path) != n_jobs:
                    raise RunFailed(f"the holder claimed {svc.lock_nodes(services.client, path)}"
                                    f" of {n_jobs} jobs")
                before = set(services.connections())
                group.start("idle", system.command("idle", url, services.zk_hosts, path,
                                                   run_dir, settings))
                _wait(lambda: svc.conductors_registered(services.client, path) >= 1,
                      group, "the idle conductor to register")
                deadline = time.monotonic() + settle
                while time.monotonic() < deadline:
                    group.check_alive()
                    time.sleep(0.1)
                sessions = set(services.connections()) - before
                if not sessions:
                    raise RunFailed("no ZooKeeper session of the idle conductor found")
                first, cpu0, t0 = services.connections(), group.cpu_seconds(), time.monotonic()
                time.sleep(window)
                last, cpu1, t1 = services.connections(), group.cpu_seconds(), time.monotonic()
                group.check_alive()
                gone = sessions - set(last)
                if gone:
                    raise RunFailed(f"the idle conductor's session(s) {gone} ended")
                received = sum(last[s][0] - first[s][0] for s in sessions)
                result.requests_per_s = received / (t1 - t0)
                result.cpu_percent = (cpu1 - cpu0) / (t1 - t0) * 100
                result.sessions = len(sessions)
                result.session_timeout_ms = max((last[s][1] or 0) for s in sessions) or None
                if svc.lock_nodes(services.client, path) != n_jobs:
                    raise RunFailed("a claim changed hands during the measurement")
    except Exception as exc:  # one failed measurement must not lose the benchmark
        result.error = f"{type(exc).__name__}: {exc}"
        result.requests_per_s = result.cpu_percent = None
    return result


@contextlib.contextmanager
def _ours_holder(hosts: str, path: str, n_jobs: int) -> Iterator[None]:
    settings = jobs.JobboardSettings(hosts=(hosts,), path=path)
    with jobs.open_jobboard(settings, "bench-holder", watch=False) as board:
        for _ in range(n_jobs):
            spec = jobs.JobSpec(job_id=str(uuid.uuid4()), flow_name="bench-1-task",
                                flow_detail_id=str(uuid.uuid4()))
            book = str(uuid.uuid4())
            job = board.post(uuid=str(uuid.uuid4()), name="bench-1-task",
                             details=spec.to_details(), book_uuid=book,
                             book_name=f"job-{book}")
            board.claim(job)
        yield


@contextlib.contextmanager
def _stock_holder(hosts: str, path: str, n_jobs: int) -> Iterator[None]:
    board = stock.board("bench-holder", hosts, path, None)
    try:
        for _ in range(n_jobs):
            job = board.post("bench-1-task", details={"store": {}})
            board.claim(job, "bench-holder")
        yield
    finally:
        board.close()


def _wait(predicate: Callable[[], bool], group: ConductorGroup, what: str) -> None:
    deadline = time.monotonic() + _TIMEOUT
    while not predicate():
        group.check_alive()
        if time.monotonic() >= deadline:
            raise RunFailed(f"timed out waiting for {what}\n" + group.log_tails())
        time.sleep(0.05)
