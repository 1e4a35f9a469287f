"""A claim whose answer ZooKeeper lost must not leave the job held for ever.

When the connection drops while the lock is being created, kazoo reports
ConnectionLoss whether or not the server created it. The session then moves
to another server and lives on, and so would a lock nobody knows it holds:
no other conductor could claim the job, and this one thinks someone else has
it. Seen in the chaos suite when the ensemble's leader was killed.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.conductor import Conductor, ConductorSettings
from orchestrator.registry import FlowRegistry
from tests.helpers import wait_for

pytestmark = pytest.mark.integration


def test_a_lock_created_without_an_answer_is_released_and_the_job_runs(
        database: persistence.Database, zk_hosts: str, jobboard_path: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    registry = FlowRegistry.from_entry_points()
    settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
    lost_answers: list[str] = []
    with jobs.open_jobboard(settings, "lossy") as board, \
            Orchestrator(database, registry, settings) as orch:
        claim = board.claim

        def claim_then_lose_the_answer(job: jobs.BoardJob) -> None:
            claim(job)  # the lock exists, held by this board's session...
            if not lost_answers:
                lost_answers.append(job.uuid)
                # ...but the answer never came back
                raise jobs.BoardUnavailable(f"claiming job {job.uuid} failed: ConnectionLoss")

        monkeypatch.setattr(board, "claim", claim_then_lose_the_answer)
        conductor = Conductor(ConductorSettings(name="lossy"), board, database, registry)
        runner = threading.Thread(target=conductor.run, daemon=True)
        runner.start()
        try:
            job = orch.post("bench-1-task", {})
            wait_for(lambda: orch.get_job(job.id).is_terminal, timeout=30,
                     message="the job to run after its lost claim")
            record: Any = orch.get_job(job.id)
            assert record.state.value == "SUCCESS"
            assert lost_answers == [str(job.board_job_id)]
            assert record.attempts == 1
        finally:
            conductor.stop()
            runner.join(timeout=30)
