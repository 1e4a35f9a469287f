"""A conductor that died after a flow ended, before recording it: the flow is not re-run.

TaskFlow's prepare() resets a REVERTED flow and runs it again from scratch; a
job claimed in that window would repeat every side effect of the flow.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.flows import ledger
from orchestrator.registry import FlowRegistry
from tests.integration.conftest import run_conductor_until

pytestmark = pytest.mark.integration

PHONES = {"jim_number": "1", "joe_number": "2", "jmilkfan_number": "3"}


def _run_conductor(database: persistence.Database, board_settings: jobs.JobboardSettings,
                   registry: FlowRegistry, until: Callable[[], object]) -> None:
    run_conductor_until(database, board_settings, registry, until, name="finished-flows")


def test_a_reverted_flow_claimed_again_is_recorded_not_rerun(
        database: persistence.Database, zk_hosts: str, jobboard_path: str,
        tmp_path: Path) -> None:
    registry = FlowRegistry.from_entry_points()
    board_settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
    led = tmp_path / "ledger"
    with Orchestrator(database, registry, board_settings) as orch:
        record = orch.post("phone-calls", {**PHONES, "ledger_path": str(led)})

        def state() -> persistence.JobState:
            return orch.get_job(record.id).state

        _run_conductor(database, board_settings, registry,
                       lambda: state() is persistence.JobState.REVERTED)
        effects = ledger.read(led)
        assert len(effects) == 6

        # The crash window: the flow ended, but its record still says RUNNING and
        # the job is back on the board (never consumed).
        with database.engine.begin() as conn:
            conn.execute(sa.text("UPDATE orchestrator_jobs SET state = 'RUNNING', "
                                 "finished_at = NULL, last_error = NULL WHERE id = :id"),
                         {"id": record.id})
        spec = jobs.JobSpec(job_id=record.id, flow_name="phone-calls",
                            flow_detail_id=record.flow_detail_id,
                            store={**PHONES, "ledger_path": str(led)})
        assert record.board_job_id is not None
        with jobs.open_jobboard(board_settings, "re-poster", watch=False) as board:
            board.post(uuid=record.board_job_id, name="phone-calls",
                       details=spec.to_details(), book_uuid=record.logbook_id,
                       book_name=f"job-{record.id}")

        _run_conductor(database, board_settings, registry,
                       lambda: state() is persistence.JobState.REVERTED)
        final = orch.get_job(record.id)
    assert ledger.read(led) == effects, "the finished flow ran again"
    assert final.last_error and "out of service" in final.last_error
