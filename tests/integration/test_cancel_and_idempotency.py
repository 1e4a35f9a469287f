"""Cancelling and idempotent posting through the service, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kazoo.client import KazooClient
from sqlalchemy import update

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.errors import IdempotencyConflict, InvalidMarker, JobFinished, JobNotFound
from orchestrator.flows import ledger
from orchestrator.registry import FlowRegistry
from persistence.models import JobRow
from tests.integration.conftest import run_conductor_until

pytestmark = pytest.mark.integration

REGISTRY = FlowRegistry.from_entry_points()
VOLUME = {"raw_size": 10, "raw_availability_zone": "nova", "raw_volume_type": "ssd"}


@pytest.fixture
def board_settings(zk_hosts: str, jobboard_path: str) -> jobs.JobboardSettings:
    return jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path, connect_timeout=10)


@pytest.fixture
def orch(database: persistence.Database,
         board_settings: jobs.JobboardSettings) -> Iterator[Orchestrator]:
    with Orchestrator(database, REGISTRY, board_settings) as o:
        yield o


def _board_jobs(board_settings: jobs.JobboardSettings) -> list[str]:
    client = KazooClient(hosts=board_settings.hosts_string)
    client.start(timeout=10)
    try:
        if not client.exists(board_settings.path):
            return []
        return [c for c in client.get_children(board_settings.path) if c.startswith("job")]
    finally:
        client.stop()
        client.close()


def test_concurrent_posts_with_one_key_make_one_job(
        orch: Orchestrator, database: persistence.Database,
        board_settings: jobs.JobboardSettings) -> None:
    start = threading.Barrier(8)

    def post(_: int) -> tuple[str, bool]:
        start.wait()
        posted = orch.submit("create-volume", VOLUME, idempotency_key="same-key")
        return posted.record.id, posted.created

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(post, range(8)))
    assert len({job_id for job_id, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    with database.session() as session:
        assert len(persistence.list_jobs(session)) == 1
    # The losers left no logbook or jobboard entry behind.
    assert len(list(database.taskflow_backend().get_connection().get_logbooks())) == 1
    assert len(_board_jobs(board_settings)) == 1


def test_a_key_reused_with_another_store_is_refused(orch: Orchestrator,
                                                    database: persistence.Database) -> None:
    first = orch.post("create-volume", VOLUME, idempotency_key="k1")
    with pytest.raises(IdempotencyConflict, match=first.id):
        orch.post("create-volume", {**VOLUME, "raw_size": 11}, idempotency_key="k1")
    with pytest.raises(IdempotencyConflict):
        orch.post("slow-steps", {"ledger_path": "x"}, idempotency_key="k1")
    with database.session() as session:
        assert len(persistence.list_jobs(session)) == 1


def test_cancelling_an_unstarted_job_reverts_it_at_once_and_no_conductor_runs_it(
        orch: Orchestrator, database: persistence.Database,
        board_settings: jobs.JobboardSettings, tmp_path: Path) -> None:
    path = tmp_path / "ledger"
    record = orch.post("slow-steps", {"ledger_path": str(path), "step_seconds": 0})
    cancelled = orch.cancel(record.id)
    assert cancelled.state is persistence.JobState.REVERTED
    assert cancelled.cancel_requested_at is not None and cancelled.finished_at is not None
    assert "cancelled before" in (cancelled.last_error or "")
    with pytest.raises(JobFinished):
        orch.cancel(record.id)

    # A conductor started afterwards only clears it from the jobboard.
    run_conductor_until(database, board_settings, REGISTRY,
                        lambda: not _board_jobs(board_settings), name="cancel-test",
                        message="the conductor to clear the cancelled job")
    assert ledger.read(path) == []
    assert orch.get_job(record.id).state is persistence.JobState.REVERTED
    assert orch.get_job(record.id).attempts == 0


def test_cancel_of_an_unknown_job_and_a_bad_marker(orch: Orchestrator) -> None:
    with pytest.raises(JobNotFound):
        orch.cancel("3f1c7d0e-0000-4000-8000-000000000000")
    with pytest.raises(InvalidMarker):
        orch.page_jobs(marker="no-such-job")


def test_pages_cover_every_job_once_even_with_equal_timestamps(
        orch: Orchestrator, database: persistence.Database) -> None:
    records = [orch.post("create-volume", VOLUME) for _ in range(7)]
    # Several jobs created in the same microsecond: the id breaks the tie.
    with database.session() as session:
        session.execute(update(JobRow).values(created_at=records[0].created_at))
    seen: list[str] = []
    marker = None
    while True:
        page = orch.page_jobs(limit=3, marker=marker)
        seen += [r.id for r in page.jobs]
        marker = page.next_marker
        if marker is None:
            break
    assert sorted(seen) == sorted(r.id for r in records)
    assert len(seen) == len(set(seen))

