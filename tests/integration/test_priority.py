"""Jobs are claimed highest priority first (stock TaskFlow hands out the lowest first)."""

from __future__ import annotations

import pytest
from kazoo.client import KazooClient
from taskflow.jobs.backends import impl_zookeeper

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.registry import FlowRegistry
from tests.helpers import wait_for
from tests.integration.conftest import run_conductor_until

pytestmark = pytest.mark.integration

REGISTRY = FlowRegistry.from_entry_points()
# Priorities are read in any case.
POSTED = ("low", "NORMAL", "Very_Low", "VERY_HIGH", "high", "NORMAL")


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """SQLite only: the claim order is the jobboard's, whatever the database."""
    return sqlite_url


def test_a_conductor_runs_waiting_jobs_by_priority_then_posting_order(
        database: persistence.Database, zk_hosts: str, jobboard_path: str) -> None:
    board_settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
    with Orchestrator(database, REGISTRY, board_settings) as orch:
        posted = [(orch.post("bench-1-task", priority=p).id, p.upper()) for p in POSTED]

        def all_finished() -> bool:
            return all(orch.get_job(job_id).is_terminal for job_id, _ in posted)

        run_conductor_until(database, board_settings, REGISTRY, all_finished,
                            name="priority", max_simultaneous_jobs=1,
                            message="every posted job to finish")
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
