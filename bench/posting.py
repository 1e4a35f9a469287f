"""The cost of posting a job on a quiet system: latency and SQL per post.

A fresh database and board path, no conductor: one warm-up post (it connects
the poster and fills its caches), then ``posts`` posts back to back, each timed
on its own. Ours posts with ``Orchestrator.post`` (job record, logbook, flow
detail, ZooKeeper node); stock and tables-once as TaskFlow's examples do
(``save_logbook``, ``save_factory_details``, ``board.post``). SQL is counted
on the poster's engine as in ``bench.sqlcount``.

The throughput runs time their posts too, while conductors compete for the
CPU; this measures a post's own cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import jobs
from bench import services as svc
from bench.sqlcount import Counter, Counts
from bench.workload import System

FLOW = "bench-1-task"
#: Bytes of the node the ZooKeeper floor creates: one bench-1-task posting of ours.
FLOOR_PAYLOAD = 360


@dataclass
class PostResult:
    system: str
    backend: str
    latencies: list[float] = field(default_factory=list)  # seconds
    counts: list[Counts] = field(default_factory=list)  # per post, one per round
    error: str | None = None


def measure(system: System, backend: str, posts: int, services: svc.Services,
            run_dir: Path, result: PostResult) -> str | None:
    """Post ``posts`` jobs of ``FLOW``; add their latencies and counts to ``result``.

    Returns what went wrong (also kept in ``result.error``), or None.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with services.database(backend, run_dir) as url:
            system.prepare(url)
            with system.poster(url, services.zk_hosts, svc.board_path()) as poster:
                counter = Counter(poster.engine)
                poster.post(FLOW)
                before = counter.snapshot()
                for _ in range(posts):
                    began = time.perf_counter()
                    poster.post(FLOW)
                    result.latencies.append(time.perf_counter() - began)
                result.counts.append((counter.snapshot() - before) / posts)
    except Exception as exc:  # one failed round must not lose the benchmark
        result.error = f"{type(exc).__name__}: {exc}"
        return result.error
    return None


def zookeeper_floor(hosts: str, posts: int) -> list[float]:
    """Seconds per bare sequential create, as a post makes one: the floor under a post.

    The same client a poster opens (``jobs.make_client``, our poll handler), a
    payload the size of a posting, one warm-up create; ZooKeeper logs each
    create to disk before it answers.
    """
    client = jobs.make_client(jobs.JobboardSettings(hosts=(hosts,)))
    client.start(timeout=30)
    try:
        folder = svc.board_path()
        payload = b"x" * FLOOR_PAYLOAD
        client.create(f"{folder}/job", payload, sequence=True, makepath=True)
        latencies = []
        for _ in range(posts):
            began = time.perf_counter()
            client.create(f"{folder}/job", payload, sequence=True)
            latencies.append(time.perf_counter() - began)
        return latencies
    finally:
        client.stop()
        client.close()
