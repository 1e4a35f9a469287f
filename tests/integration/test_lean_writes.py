"""One write per state change: what a job costs the database, counted statement by statement.

Stock TaskFlow writes an atom three times per state change (state, progress,
the listener's timestamp), rewrites every atom with each flow state and reads
each row before updating it; a 1-task job cost 39 statements in 15
transactions. Here each state change is one statement, the timestamps and
progress ride along, and the job record ends in its flow's last transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from taskflow import task
from taskflow.patterns import unordered_flow as uf

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.conductor import Conductor, ConductorSettings
from orchestrator.registry import FlowRegistry
from tests.helpers import wait_for

pytestmark = pytest.mark.integration


class Recorder:
    """Each statement (verb and table) and each commit, in order."""

    def __init__(self, engine: sa.Engine) -> None:
        self.log: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", self._statement)
        sa.event.listen(engine, "commit", self._commit)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.split()
        verb = words[0].upper()
        table = next((words[i + 1] for i, w in enumerate(words[:-1])
                      if w.upper() in ("UPDATE", "INTO", "FROM")), "")
        self.log.append(f"{verb} {table.strip(chr(34))}")

    def _commit(self, _conn: Any) -> None:
        self.log.append("COMMIT")

    def transactions(self) -> list[list[str]]:
        found, current = [], []
        for entry in self.log:
            if entry == "COMMIT":
                found.append(current)
                current = []
            else:
                current.append(entry)
        return found


@pytest.fixture
def run_counted(database: persistence.Database, zk_hosts: str,
                jobboard_path: str) -> Iterator[Any]:
    registry = FlowRegistry.from_entry_points()
    settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
    conductor_db = persistence.Database(database.engine.url.render_as_string(
        hide_password=False))
    with jobs.open_jobboard(settings, "counted") as board, \
            Orchestrator(database, registry, settings) as orch:
        # No reconciliation pass inside the counted window.
        conductor = Conductor(ConductorSettings(name="counted", reconcile_interval=3600),
                              board, conductor_db,
                              registry)
        runner = threading.Thread(target=conductor.run, daemon=True)
        runner.start()

        def run(flow: str, keys: tuple[str, ...] = ()) -> Recorder:
            warm = orch.post(flow, {})
            wait_for(lambda: orch.get_job(warm.id).is_terminal, timeout=30,
                     message="the warm-up job")
            wait_for(lambda: board.find(str(warm.board_job_id)) is None, timeout=30,
                     message="the warm-up job to leave the board")
            recorder = Recorder(conductor_db.engine)
            job = orch.post(flow, {}, concurrency_keys=keys)
            wait_for(lambda: orch.get_job(job.id).is_terminal, timeout=30,
                     message="the counted job")
            assert orch.get_job(job.id).state.value == "SUCCESS"
            return recorder

        try:
            yield run
        finally:
            conductor.stop()
            runner.join(timeout=30)
            conductor_db.close()


def test_a_one_task_job_writes_each_state_change_once(run_counted: Any) -> None:
    recorder = run_counted("bench-1-task")
    writes = [t for t in recorder.transactions() if any(not s.startswith("SELECT") for s in t)]
    assert writes == [
        # the claim, and the attempt it starts
        ["UPDATE orchestrator_jobs", "INSERT orchestrator_attempts"],
        # prepare (the flow's atoms), the flow RUNNING, and the task RUNNING
        # at 0%, committed before the task starts
        ["UPDATE flowdetails", "INSERT atomdetails", "UPDATE flowdetails",
         "UPDATE atomdetails"],
        # the task SUCCESS at 100%, the flow SUCCESS, the job and its attempt with it
        ["UPDATE atomdetails", "UPDATE flowdetails", "UPDATE orchestrator_jobs",
         "UPDATE orchestrator_attempts"],
    ]
    statements = [s for s in recorder.log if s != "COMMIT"]
    assert len(statements) <= 12, recorder.log


def test_a_concurrency_key_costs_two_reads_and_a_row_in_the_claim_and_end(
        run_counted: Any) -> None:
    recorder = run_counted("bench-1-task", keys=("node:counted",))
    transactions = [t for t in recorder.transactions()
                    if any(not s.startswith("SELECT") for s in t)]
    # Is a job sharing the key first in line? which slots are held? then one.
    assert transactions[0] == [
        "UPDATE orchestrator_jobs", "SELECT orchestrator_job_keys",
        "SELECT orchestrator_key_holds", "INSERT orchestrator_key_holds",
        "INSERT orchestrator_attempts"]
    # The key goes with the job's end, in the same transaction.
    assert transactions[-1][-1] == "DELETE orchestrator_key_holds"
    assert len(transactions) == 3


def test_a_ten_task_job_costs_three_statements_a_task_at_most(run_counted: Any) -> None:
    recorder = run_counted("bench-10-tasks")
    statements = [s for s in recorder.log if s != "COMMIT"]
    atom_updates = statements.count("UPDATE atomdetails")
    assert atom_updates == 20  # RUNNING and SUCCESS of each task, nothing else
    assert len(statements) <= 32, recorder.log
    writes = [t for t in recorder.transactions() if any(not s.startswith("SELECT") for s in t)]
    # The claim, then one per task: each task's RUNNING commits with what came
    # before it (the previous task's SUCCESS), the last SUCCESS with the flow's.
    assert len(writes) == 1 + 10 + 1, writes
    assert all(t.count("UPDATE atomdetails") <= 2 for t in writes), writes


def test_posting_is_one_transaction_then_the_zookeeper_create(
        database: persistence.Database, zk_hosts: str, jobboard_path: str) -> None:
    settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
    with Orchestrator(database, FlowRegistry.from_entry_points(), settings) as orch:
        orch.post("bench-1-task", {})  # the schema check and the board's connection
        recorder = Recorder(database.engine)
        orch.post("bench-1-task", {})
    assert recorder.transactions() == [[
        "INSERT logbooks", "INSERT flowdetails", "INSERT atomdetails",
        "INSERT orchestrator_jobs"]]


RELEASE_SLOW = threading.Event()


class Quick(task.Task):  # type: ignore[misc]
    def execute(self) -> str:
        return "quick"


class Slow(task.Task):  # type: ignore[misc]
    def execute(self) -> str:
        RELEASE_SLOW.wait(60)
        return "slow"


def quick_and_slow() -> uf.Flow:
    return uf.Flow("quick-and-slow").add(Quick("quick"), Slow("slow"))


def test_a_task_that_ended_is_stored_while_a_parallel_one_runs_on(
        database: persistence.Database, zk_hosts: str, jobboard_path: str) -> None:
    """Grouped writes wait for the next task's start, but never for a running task's end."""
    registry = FlowRegistry({"quick-and-slow": quick_and_slow})
    settings = jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)
    atoms = sa.table("atomdetails", sa.column("name"), sa.column("state"))
    RELEASE_SLOW.clear()
    with jobs.open_jobboard(settings, "parallel") as board, \
            Orchestrator(database, registry, settings) as orch:
        conductor = Conductor(ConductorSettings(name="parallel", engine="parallel"),
                              board, database, registry)
        runner = threading.Thread(target=conductor.run, daemon=True)
        runner.start()
        try:
            job = orch.post("quick-and-slow", {})

            def stored() -> dict[str, str]:
                with database.engine.connect() as conn:
                    return dict(conn.execute(sa.select(atoms.c.name, atoms.c.state)).all())

            wait_for(lambda: stored().get("quick") == "SUCCESS", timeout=30,
                     message="the quick task's end to be stored")
            assert stored()["slow"] == "RUNNING"
            RELEASE_SLOW.set()
            wait_for(lambda: orch.get_job(job.id).is_terminal, timeout=30,
                     message="the job to end")
            assert orch.get_job(job.id).state.value == "SUCCESS"
        finally:
            RELEASE_SLOW.set()
            conductor.stop()
            runner.join(timeout=30)
