"""Jobs are claimed highest priority first (stock TaskFlow hands out the lowest first)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient
from taskflow.jobs.backends import impl_zookeeper

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.conductor import ConductorSettings, FlowConductor
from orchestrator.registry import FlowRegistry
from tests.helpers import wait_for

pytestmark = pytest.mark.integration

REGISTRY = FlowRegistry.from_entry_points()
POSTED = ("LOW", "NORMAL", "VERY_LOW", "VERY_HIGH", "HIGH", "NORMAL")


@pytest.fixture
def sqlite_database(sqlite_url: str) -> Iterator[persistence.Database]:
    db = persistence.Database(sqlite_url)
    db.upgrade()
    yield db
    db.close()


def test_a_conductor_runs_waiting_jobs_by_priority_then_posting_order(
        sqlite_database: persistence.Database, zk_hosts: str, jobboard_path: str) -> None:
    board_settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
    with Orchestrator(sqlite_database, REGISTRY, board_settings) as orch:
        posted = [(orch.post("bench-1-task", priority=p).id, p) for p in POSTED]
        settings = ConductorSettings(name="priority", max_simultaneous_jobs=1,
                                     poll_interval=0.05)
        with jobs.open_jobboard(board_settings, settings.name,
                                sqlite_database.taskflow_backend()) as board:
            conductor = FlowConductor(settings, board, sqlite_database, REGISTRY)
            runner = threading.Thread(target=conductor.run, daemon=True)
            runner.start()
            try:
                for job_id, _ in posted:
                    orch.wait(job_id, timeout=60)
            finally:
                conductor.stop()
                runner.join(timeout=30)
        started = sorted(posted, key=lambda item: orch.get_job(item[0]).started_at)
    assert [p for _, p in started] == ["VERY_HIGH", "HIGH", "NORMAL", "NORMAL", "LOW",
                                       "VERY_LOW"]
    normals = [job_id for job_id, p in posted if p == "NORMAL"]
    assert [job_id for job_id, p in started if p == "NORMAL"] == normals  # FIFO within


def test_control_stock_taskflow_board_lists_the_lowest_priority_first(
        zk_hosts: str, jobboard_path: str) -> None:
    client = KazooClient(hosts=zk_hosts)
    client.start(timeout=10)
    board = impl_zookeeper.ZookeeperJobBoard(
        "stock", {"path": jobboard_path, "check_compatible": False}, client=client)
    try:
        board.connect()
        for priority in ("HIGH", "LOW"):
            board.post(f"job-{priority}", details={}, priority=priority)
        listed = wait_for(lambda: [j.priority.value for j in board.iterjobs(
            ensure_fresh=True)] or None, timeout=10, message="the stock board's jobs")
        assert listed == ["LOW", "HIGH"]
    finally:
        board.close()
        client.stop()
        client.close()
