"""A conductor that lacks a job's flow, or a command its document needs, leaves the
job to one that has it: the job waits (never FAILED) and says who passed it over."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from taskflow.persistence import models as tf_models

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.conductor import Conductor, ConductorSettings
from orchestrator.registry import FlowRegistry
from tests.helpers import wait_for
from tests.integration.conftest import run_conductor_until
from tests.jobrows import insert_job

pytestmark = pytest.mark.integration

EVERYTHING = FlowRegistry.from_entry_points()
PHONES = {"jim_number": "1", "joe_number": "2", "jmilkfan_number": "3"}


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """SQLite: what is tested is the conductors' choice, not the database."""
    return sqlite_url


@pytest.fixture
def board_settings(zk_hosts: str, jobboard_path: str) -> jobs.JobboardSettings:
    return jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)


@contextmanager
def conductor(database: persistence.Database, settings: jobs.JobboardSettings,
              registry: FlowRegistry, name: str) -> Iterator[Conductor]:
    with jobs.open_jobboard(settings, name) as board:
        running = Conductor(ConductorSettings(name=name, poll_interval=0.05), board,
                            database, registry)
        thread = threading.Thread(target=running.run, daemon=True)
        thread.start()
        try:
            yield running
        finally:
            running.stop()
            thread.join(timeout=30)


def passes(database: persistence.Database, job_id: str) -> list[persistence.JobPass]:
    with database.session() as session:
        return persistence.job_passes(session, job_id)


def test_a_conductor_without_the_flow_leaves_the_job_to_one_that_has_it(
        database: persistence.Database, board_settings: jobs.JobboardSettings) -> None:
    lacking = FlowRegistry({name: EVERYTHING.factory(name)
                            for name in EVERYTHING.names() if name != "phone-calls"})
    with Orchestrator(database, EVERYTHING, board_settings) as orch:
        job = orch.post("phone-calls", PHONES)
        with conductor(database, board_settings, lacking, "old-host"):
            found = wait_for(lambda: passes(database, job.id), timeout=30,
                             message="old-host to pass the job over")
            # It stays waiting, unclaimed, with no attempt counted.
            waiting = orch.get_job(job.id)
        assert (waiting.state.value, waiting.attempts, waiting.owner) == ("POSTED", 0, None)
        assert [(p.conductor, p.reason.split(";")[0]) for p in found] == [
            ("old-host", "flow 'phone-calls' is not registered on conductor old-host")]
        assert "it waits for a conductor that has it" in found[0].reason

        run_conductor_until(database, board_settings, EVERYTHING,
                            lambda: orch.get_job(job.id).is_terminal, name="new-host")
        history = orch.job_history(job.id)
    assert history.record.state.value == "REVERTED"  # phone-calls fails by design
    assert history.record.attempts == 1
    assert [p.conductor for p in history.passed_over] == ["old-host"]


def test_a_conductor_without_a_command_of_the_document_leaves_the_job_waiting(
        database: persistence.Database, board_settings: jobs.JobboardSettings) -> None:
    # Posted where a plugin with the command 'inventory.scan' is installed; this
    # conductor's host has no such plugin.
    document = {"name": "scan-node", "pattern": "linear", "inputs": ["node"],
                "steps": [{"name": "scan", "command": "inventory.scan", "inputs": ["node"]}]}
    book = tf_models.LogBook("job-scan")
    detail = tf_models.FlowDetail("scan-node", uuid=str(uuid.uuid4()))
    detail.meta = jobs.flow_meta("scan-node")
    book.add(detail)
    database.taskflow_backend().get_connection().save_logbook(book)
    record = insert_job(database, "scan-node", store={"node": "n1"}, document=document,
                        logbook_id=book.uuid, flow_detail_id=detail.uuid)
    spec = jobs.JobSpec(job_id=record.id, flow_name="scan-node",
                        flow_detail_id=detail.uuid, store={"node": "n1"})
    assert record.board_job_id is not None
    with jobs.open_jobboard(board_settings, "poster", watch=False) as board:
        board.post(uuid=record.board_job_id, name="scan-node", details=spec.to_details(),
                   book_uuid=book.uuid, book_name=book.name)

    with conductor(database, board_settings, EVERYTHING, "plain-host"):
        (passed,) = wait_for(lambda: passes(database, record.id), timeout=30,
                             message="plain-host to pass the job over")
    assert passed.conductor == "plain-host"
    assert "inventory.scan" in passed.reason
    with database.session() as session:
        after = persistence.get_job(session, record.id)
    assert after is not None
    assert (after.state.value, after.attempts) == ("POSTED", 0)
