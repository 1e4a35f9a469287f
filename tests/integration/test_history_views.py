"""The history views operators query directly, on SQLite and on PostgreSQL.

Their columns are a public interface (docs/history-views.md): the lists below
may only grow, at the end. The example queries are read from that document
and run as written.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import sqlalchemy as sa
from taskflow import task
from taskflow.patterns import linear_flow
from taskflow.persistence import models as tf_models

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.conductor import Conductor, ConductorSettings
from orchestrator.registry import FlowRegistry
from tests.helpers import wait_for
from tests.jobrows import insert_job

pytestmark = pytest.mark.integration

VIEW_COLUMNS = {
    "orchestrator_job_history": [
        "job_id", "flow", "state", "priority", "created_at", "started_at", "finished_at",
        "duration_seconds", "attempts", "owner", "last_error", "cancelled",
        "cancel_requested_at", "cancel_requested_by", "retry_of", "idempotency_key",
        "not_before",
    ],
    "orchestrator_attempt_history": [
        "job_id", "flow", "attempt", "conductor", "started_at", "ended_at",
        "duration_seconds", "outcome", "job_state", "step", "detail",
    ],
    "orchestrator_task_history": [
        "job_id", "flow", "task", "state", "intention", "execute_started_at",
        "execute_finished_at", "execute_duration_seconds", "revert_started_at",
        "revert_finished_at", "revert_duration_seconds", "result", "failure_type",
        "failure_message", "revert_failure_type", "revert_failure_message",
    ],
}

TIME_COLUMNS = ("execute_started_at", "execute_finished_at",
                "revert_started_at", "revert_finished_at")
CONDUCTOR = "history-views"
DOC = Path(__file__).resolve().parents[2] / "docs" / "history-views.md"


class StillAttached(Exception):
    """A revert that cannot undo its execute."""


class Allocate(task.Task):
    def execute(self, size: int) -> dict[str, Any]:
        return {"volume": "vol-1", "size": size}

    def revert(self, *args: Any, **kwargs: Any) -> None:
        pass


class Attach(task.Task):
    def execute(self) -> str:
        return "attached"

    def revert(self, *args: Any, **kwargs: Any) -> None:
        raise StillAttached("volume vol-1 is still attached")


class Configure(task.Task):
    def execute(self) -> None:
        raise ValueError("bad config")


class Noop(task.Task):
    def execute(self) -> None:
        pass


class Hold(task.Task):
    """Runs until the test releases it (a minute at most)."""

    def __init__(self, name: str, release: threading.Event) -> None:
        super().__init__(name)
        self._release = release

    def execute(self) -> None:
        self._release.wait(timeout=60)


def make_registry(release: threading.Event) -> FlowRegistry:
    return FlowRegistry({
        "provision": lambda: linear_flow.Flow("provision").add(
            Allocate("allocate"), Configure("configure")),
        "stuck-detach": lambda: linear_flow.Flow("stuck-detach").add(
            Attach("attach"), Configure("configure")),
        "quick": lambda: linear_flow.Flow("quick").add(Allocate("allocate"), Noop("finish")),
        "hold": lambda: linear_flow.Flow("hold").add(Hold("hold", release)),
    })


@pytest.fixture
def release() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def board_settings(zk_hosts: str, jobboard_path: str) -> jobs.JobboardSettings:
    return jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)


@pytest.fixture
def orch(database: persistence.Database, board_settings: jobs.JobboardSettings,
         release: threading.Event) -> Iterator[Orchestrator]:
    with Orchestrator(database, make_registry(release), board_settings) as orchestrator:
        yield orchestrator


@contextmanager
def conductor_running(database: persistence.Database, board_settings: jobs.JobboardSettings,
                      release: threading.Event) -> Iterator[None]:
    settings = ConductorSettings(name=CONDUCTOR, poll_interval=0.05)
    with jobs.open_jobboard(board_settings, settings.name) as board:
        conductor = Conductor(settings, board, database, make_registry(release))
        runner = threading.Thread(target=conductor.run, daemon=True)
        runner.start()
        try:
            yield
        finally:
            release.set()  # a held task would keep the conductor from stopping
            conductor.stop()
            runner.join(timeout=30)


def finished(orch: Orchestrator, *job_ids: str) -> bool:
    return all(orch.get_job(job_id).is_terminal for job_id in job_ids)


def query(database: persistence.Database, sql: str,
          params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with database.engine.connect() as conn:
        return [dict(row) for row in conn.execute(sa.text(sql), params or {}).mappings()]


def rows_of(database: persistence.Database, view: str, job_id: str) -> list[dict[str, Any]]:
    return query(database, f"SELECT * FROM {view} WHERE job_id = :job", {"job": job_id})


def as_utc(value: Any) -> datetime | None:
    """A view's time as an aware datetime: SQLite gives UTC text, PostgreSQL timestamptz."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    assert isinstance(value, datetime) and value.tzinfo is not None
    return value.astimezone(UTC)


def example_queries() -> dict[tuple[str, str], str]:
    """The document's example queries by (title, database)."""
    blocks = re.findall(r"```sql\n-- (.+?) \((SQLite|PostgreSQL)\)\n(.*?)```",
                        DOC.read_text(), flags=re.DOTALL)
    return {(title, dialect): sql for title, dialect, sql in blocks}


def example(database: persistence.Database, title: str) -> list[dict[str, Any]]:
    dialect = "PostgreSQL" if database.engine.dialect.name == "postgresql" else "SQLite"
    return query(database, example_queries()[(title, dialect)])


def test_each_view_has_its_published_columns_in_order(
        database: persistence.Database) -> None:
    with database.engine.connect() as conn:
        assert set(VIEW_COLUMNS) <= set(sa.inspect(conn).get_view_names())
        for view, columns in VIEW_COLUMNS.items():
            result = conn.execute(sa.text(f"SELECT * FROM {view} WHERE 1 = 0"))
            assert list(result.keys()) == columns, view


def test_a_downgrade_drops_the_views_and_an_upgrade_brings_them_back(
        database: persistence.Database) -> None:
    database.downgrade("0004")
    with database.engine.connect() as conn:
        assert not set(VIEW_COLUMNS) & set(sa.inspect(conn).get_view_names())
    database.upgrade()
    with database.engine.connect() as conn:
        assert set(VIEW_COLUMNS) <= set(sa.inspect(conn).get_view_names())


def test_a_reverted_job_reads_as_plain_rows(
        database: persistence.Database, orch: Orchestrator,
        board_settings: jobs.JobboardSettings, release: threading.Event) -> None:
    reverted = orch.post("provision", {"size": 10})
    failed = orch.post("stuck-detach", {})
    with conductor_running(database, board_settings, release):
        wait_for(lambda: finished(orch, reverted.id, failed.id), timeout=60,
                 message="both jobs to finish")

    (job,) = rows_of(database, "orchestrator_job_history", reverted.id)
    assert (job["flow"], job["state"], job["attempts"]) == ("provision", "REVERTED", 1)
    assert job["last_error"] == "configure: bad config"
    assert not job["cancelled"]
    assert job["duration_seconds"] >= 0

    tasks = {t["task"]: t for t in rows_of(database, "orchestrator_task_history", reverted.id)}
    assert {name: (t["state"], t["intention"]) for name, t in tasks.items()} == {
        "allocate": ("REVERTED", "REVERT"), "configure": ("REVERTED", "REVERT")}
    assert json.loads(tasks["allocate"]["result"]) == {"volume": "vol-1", "size": 10}
    assert tasks["configure"]["result"] is None
    assert (tasks["configure"]["failure_type"], tasks["configure"]["failure_message"]) == (
        "ValueError", "bad config")
    assert tasks["allocate"]["failure_type"] is None
    for row in tasks.values():
        assert row["execute_duration_seconds"] >= 0 and row["revert_duration_seconds"] >= 0
        times = [t for c in TIME_COLUMNS if (t := as_utc(row[c])) is not None]
        assert len(times) == 4 and times == sorted(times), row["task"]
    # The same times the product's own history reader shows (SQLite keeps milliseconds).
    for shown in persistence.job_tasks(database, reverted.flow_detail_id):
        row = tasks[shown.name]
        for column in TIME_COLUMNS:
            expected = getattr(shown, column)
            assert abs((as_utc(row[column]) - expected).total_seconds()) < 0.002, column
        assert row["execute_duration_seconds"] == pytest.approx(shown.execute_duration,
                                                               abs=1e-4)

    (job,) = rows_of(database, "orchestrator_job_history", failed.id)
    assert job["state"] == "FAILED"
    tasks = {t["task"]: t for t in rows_of(database, "orchestrator_task_history", failed.id)}
    assert tasks["attach"]["state"] == "REVERT_FAILURE"
    assert tasks["attach"]["revert_failure_type"] == f"{__name__}.StillAttached"
    assert tasks["attach"]["revert_failure_message"] == "volume vol-1 is still attached"
    assert tasks["attach"]["revert_finished_at"] is not None
    assert tasks["attach"]["result"] is None  # TaskFlow drops it when the revert fails

    (attempt,) = rows_of(database, "orchestrator_attempt_history", reverted.id)
    assert (attempt["flow"], attempt["attempt"], attempt["conductor"]) == (
        "provision", 1, CONDUCTOR)
    assert (attempt["outcome"], attempt["job_state"]) == ("finished", "REVERTED")
    assert attempt["duration_seconds"] >= 0


# ``<STATE>-timestamp`` metas a task can be left with: runs again after a crash,
# a reset, a stale revert, or a value that is not a time.
RUN_METAS: dict[str, dict[str, Any]] = {
    "plain": {"RUNNING-timestamp": 100.0, "SUCCESS-timestamp": 101.5},
    "reverted-after-failure": {"RUNNING-timestamp": 100.0, "FAILURE-timestamp": 101.0,
                               "REVERTING-timestamp": 102.0,
                               "REVERT_FAILURE-timestamp": 104.25},
    "running-again": {"RUNNING-timestamp": 200.0, "SUCCESS-timestamp": 150.0,
                      "REVERTING-timestamp": 160.0, "REVERTED-timestamp": 161.0},
    "reset-after-run": {"RUNNING-timestamp": 100.0, "SUCCESS-timestamp": 101.0,
                        "PENDING-timestamp": 120.0},
    "reverted-after-rerun": {"RUNNING-timestamp": 300.0, "SUCCESS-timestamp": 301.0,
                             "REVERTING-timestamp": 290.0, "REVERTED-timestamp": 291.0},
    "not-a-time": {"RUNNING-timestamp": "soon", "SUCCESS-timestamp": True},
    "never-ran": {},
}


def test_task_times_are_those_of_the_last_run_as_the_product_shows_them(
        database: persistence.Database) -> None:
    book = tf_models.LogBook("history-views")
    detail = tf_models.FlowDetail("runs", uuid=str(uuid4()))
    for name, meta in RUN_METAS.items():
        atom = tf_models.TaskDetail(name, uuid=str(uuid4()))
        atom.meta = meta
        detail.add(atom)
    book.add(detail)
    database.taskflow_backend().get_connection().save_logbook(book)
    job = insert_job(database, "runs", logbook_id=book.uuid, flow_detail_id=detail.uuid)

    rows = {r["task"]: r for r in rows_of(database, "orchestrator_task_history", job.id)}
    assert set(rows) == set(RUN_METAS)
    for shown in persistence.job_tasks(database, detail.uuid):
        row = rows[shown.name]
        assert [as_utc(row[c]) for c in TIME_COLUMNS] == [
            getattr(shown, c) for c in TIME_COLUMNS], shown.name
        assert row["execute_duration_seconds"] == shown.execute_duration, shown.name
        assert row["revert_duration_seconds"] == shown.revert_duration, shown.name
    assert rows["reverted-after-failure"]["revert_duration_seconds"] == 2.25
    assert rows["running-again"]["execute_started_at"] is not None
    assert rows["running-again"]["execute_finished_at"] is None


def test_a_job_cancelled_before_it_ran_reads_as_cancelled_with_no_tasks(
        database: persistence.Database, orch: Orchestrator) -> None:
    job = orch.post("quick", {"size": 1})
    orch.cancel(job.id, requested_by="alice")

    (row,) = rows_of(database, "orchestrator_job_history", job.id)
    assert (row["state"], bool(row["cancelled"]), row["cancel_requested_by"]) == (
        "REVERTED", True, "alice")
    assert rows_of(database, "orchestrator_task_history", job.id) == []
    assert rows_of(database, "orchestrator_attempt_history", job.id) == []


def test_the_example_queries_find_the_jobs_they_promise(
        database: persistence.Database, orch: Orchestrator,
        board_settings: jobs.JobboardSettings, release: threading.Event) -> None:
    reverted = orch.post("provision", {"size": 10})
    succeeded = orch.post("quick", {"size": 2})
    cancelled = orch.post("quick", {"size": 3})
    orch.cancel(cancelled.id, requested_by="alice")
    held = orch.post("hold", {})
    with conductor_running(database, board_settings, release):
        wait_for(lambda: finished(orch, reverted.id, succeeded.id), timeout=60,
                 message="the reverted and the successful job to finish")
        wait_for(lambda: [t for t in rows_of(database, "orchestrator_task_history", held.id)
                          if t["state"] == "RUNNING"],
                 timeout=60, message="the held job's task to run")

        running = example(database, "jobs still running with their owner")
        assert [(r["job_id"], r["owner"], r["current_task"]) for r in running] == [
            (held.id, CONDUCTOR, "hold")]
        assert running[0]["running_seconds"] >= 0

        today = example(database, "jobs reverted today with their first failure")
        assert [(r["job_id"], r["task"], r["failure_type"], r["failure_message"])
                for r in today] == [(reverted.id, "configure", "ValueError", "bad config"),
                                    (cancelled.id, None, None, None)]

        slowest = example(database, "slowest tasks this week")
        release.set()
        wait_for(lambda: finished(orch, held.id), timeout=60, message="the held job to finish")
        assert example(database, "jobs still running with their owner") == []

    # Every task that finished an execute, slowest first: the held one had not.
    assert {(r["job_id"], r["task"]) for r in slowest} == {
        (reverted.id, "allocate"), (reverted.id, "configure"),
        (succeeded.id, "allocate"), (succeeded.id, "finish")}
    seconds = [float(r["seconds"]) for r in slowest]
    assert seconds == sorted(seconds, reverse=True) and min(seconds) >= 0
    durations = {(job.id, t.name): t.execute_duration
                 for job in (reverted, succeeded)
                 for t in persistence.job_tasks(database, job.flow_detail_id)}
    for row in slowest:
        assert float(row["seconds"]) == pytest.approx(durations[row["job_id"], row["task"]],
                                                      abs=1e-3)
