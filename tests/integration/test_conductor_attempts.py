"""Jobs whose runs fail outside any task end FAILED with a reason, never loop forever.

Stock TaskFlow abandons a job that hits a StorageFailure and claims it again at
once, indefinitely (REFERENCE: ~5.5 cycles a second, no counter).
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from kazoo.client import KazooClient
from taskflow import task
from taskflow.patterns import linear_flow

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.conductor import Conductor, ConductorSettings
from orchestrator.registry import FlowRegistry
from tests.helpers import wait_for

pytestmark = pytest.mark.integration


class ReturnsDatetime(task.Task):
    def execute(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)


class RaisesWithObjectArgument(task.Task):
    def execute(self) -> None:
        raise RuntimeError("disk controller gone", object())


class Noop(task.Task):
    def execute(self) -> None:
        pass


REGISTRY = FlowRegistry({
    "datetime-result": lambda: linear_flow.Flow("dt").add(ReturnsDatetime("returns-datetime")),
    "noop": lambda: linear_flow.Flow("noop").add(Noop("noop")),
    "object-in-exception": lambda: linear_flow.Flow("oe").add(
        Noop("before"), RaisesWithObjectArgument("raises")),
})


@pytest.fixture
def database(postgres_url: str) -> Iterator[persistence.Database]:
    db = persistence.Database(postgres_url)
    db.upgrade()
    yield db
    db.close()


def _run_until_finished(database: persistence.Database, zk_hosts: str, board_path: str,
                        flow: str, before_conductor: object = None) -> persistence.JobRecord:
    board_settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=board_path)
    settings = ConductorSettings(name="attempts-test", poll_interval=0.05, max_attempts=3,
                                 retry_delay=0.2)
    with Orchestrator(database, REGISTRY, board_settings) as orch, \
            jobs.open_jobboard(board_settings, settings.name) as board:
        record = orch.post(flow, {})
        if callable(before_conductor):
            before_conductor()
        conductor = Conductor(settings, board, database, REGISTRY)
        runner = threading.Thread(target=conductor.run, daemon=True)
        runner.start()
        try:
            return orch.wait(record.id, timeout=60)
        finally:
            conductor.stop()
            runner.join(timeout=30)


def _board_empty(zk_hosts: str, board_path: str) -> bool:
    client = KazooClient(hosts=zk_hosts)
    client.start(timeout=10)
    try:
        return not [c for c in client.get_children(board_path) if c.startswith("job")]
    finally:
        client.stop()
        client.close()


def test_storage_failures_end_in_failed_after_max_attempts(
        database: persistence.Database, zk_hosts: str, jobboard_path: str) -> None:
    def break_taskflow_storage() -> None:
        with database.engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE atomdetails RENAME TO atomdetails_gone"))

    final = _run_until_finished(database, zk_hosts, jobboard_path, "noop",
                                break_taskflow_storage)
    assert final.state is persistence.JobState.FAILED
    assert final.attempts == 3
    assert final.last_error and "gave up after 3 attempts" in final.last_error
    # Backed off between attempts (0.2 s, then 0.4 s) instead of cycling at once.
    assert final.finished_at and final.started_at
    assert (final.finished_at - final.started_at).total_seconds() >= 0.6
    # The job left the board for the trash: no conductor will claim it again.
    wait_for(lambda: _board_empty(zk_hosts, jobboard_path), timeout=30,
             message="the job to leave the board")


def test_an_unsaveable_result_fails_the_job_with_a_reason(
        database: persistence.Database, zk_hosts: str, jobboard_path: str) -> None:
    # PostgreSQL's JSON columns refuse a datetime: the result cannot be saved.
    final = _run_until_finished(database, zk_hosts, jobboard_path, "datetime-result")
    assert final.state is persistence.JobState.FAILED
    assert final.last_error and "not JSON serializable" in final.last_error
    wait_for(lambda: _board_empty(zk_hosts, jobboard_path), timeout=30,
             message="the job to leave the board")


def test_an_exception_with_non_json_arguments_still_reverts_the_flow(
        database: persistence.Database, zk_hosts: str, jobboard_path: str) -> None:
    # TaskFlow persists a failure's exception arguments; PostgreSQL refuses an
    # object. The argument is stored as its repr, so the failure is kept.
    final = _run_until_finished(database, zk_hosts, jobboard_path, "object-in-exception")
    assert final.state is persistence.JobState.REVERTED
    assert final.last_error and "disk controller gone" in final.last_error
    history = persistence.job_tasks(database, final.flow_detail_id)
    assert {t.name: t.state for t in history} == {"before": "REVERTED", "raises": "REVERTED"}
    wait_for(lambda: _board_empty(zk_hosts, jobboard_path), timeout=30,
             message="the job to leave the board")
