"""Job history: how it is read from TaskFlow, rendered, parsed and followed."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console
from taskflow.persistence import models as tf_models
from taskflow.types import failure as tf_failure

from orchestrator import views
from orchestrator.cli import jsonout, render
from orchestrator.cli.jobs_cmd import jobs, parse_since
from orchestrator.cli.progress import PlainReporter, snapshot
from orchestrator.service import JobHistory, JobRecord, JobState, TaskFailure, TaskHistory
from persistence import Database, job_tasks
from persistence.history import json_safe, task_history

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")

JOB_KEYS = {
    "id", "flow", "state", "attempts", "owner", "created_at", "started_at", "finished_at",
    "updated_at", "duration", "last_error", "logbook_id", "flow_detail_id",
    "board_job_id", "store", "priority", "idempotency_key", "cancel_requested_at",
    "document", "cancel_requested_by", "cancelled", "retry_of", "concurrency_keys",
}
TASK_KEYS = {
    "name", "state", "intention", "progress", "result", "failure", "revert_failure",
    "execute_started_at", "execute_finished_at", "execute_duration",
    "revert_started_at", "revert_finished_at", "revert_duration",
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(**changes: Any) -> JobRecord:
    base = JobRecord(
        id="6f1c1e0e-0000-4000-8000-000000000001", flow_name="phone-calls",
        state=JobState.REVERTED, store={"jim_number": "111111"},
        created_at=at(0), updated_at=at(3), started_at=at(1), finished_at=at(2.5),
        attempts=1, owner=None, logbook_id="lb", flow_detail_id="fd",
        board_job_id="bj", last_error="call-jmilkfan: out of service",
    )
    return replace(base, **changes)


def task(name: str, state: str = "REVERTED", **changes: Any) -> TaskHistory:
    base = TaskHistory(
        name=name, state=state, intention="REVERT", result={"n": 1}, failure=None,
        revert_failure=None, execute_started_at=at(1), execute_finished_at=at(1.25),
        revert_started_at=at(2), revert_finished_at=at(2.5), progress=1.0,
    )
    return replace(base, **changes)


BOOM = TaskFailure(type="ValueError", message="out of service",
                   traceback="Traceback (most recent call last):\n  File x\nValueError: oops")


def history() -> JobHistory:
    return JobHistory(record=record(), tasks=[
        task("call-jim"),
        task("call-joe", execute_started_at=at(1.5)),
        task("call-jmilkfan", result=None, failure=BOOM, execute_started_at=at(1.75),
             execute_finished_at=at(1.8)),
    ])


# JSON ------------------------------------------------------------------------


def test_history_json_shape() -> None:
    data = json.loads(jsonout.history_json(history()))
    assert set(data) == JOB_KEYS | {"tasks", "passed_over", "attempt_history",
                                    "retried_by"}
    assert data["state"] == "REVERTED" and data["flow"] == "phone-calls"
    assert data["duration"] == 1.5
    assert [t["name"] for t in data["tasks"]] == ["call-jim", "call-joe", "call-jmilkfan"]
    for t in data["tasks"]:
        assert set(t) == TASK_KEYS
        for key in ("execute_started_at", "execute_finished_at",
                    "revert_started_at", "revert_finished_at"):
            assert ISO_UTC.match(t[key]), t[key]
    jim = data["tasks"][0]
    assert jim["execute_duration"] == 0.25 and jim["revert_duration"] == 0.5
    assert jim["execute_started_at"] == "2024-05-01T12:00:01.000000+00:00"
    assert data["tasks"][2]["failure"] == {
        "type": "ValueError", "message": "out of service", "traceback": None}


def test_tracebacks_only_when_asked() -> None:
    data = json.loads(jsonout.history_json(history(), traceback=True))
    assert data["tasks"][2]["failure"]["traceback"] == BOOM.traceback


def test_json_is_stable_sorted_and_utc() -> None:
    offset = timezone(timedelta(hours=2))
    local = JobHistory(record=record(created_at=at(0).astimezone(offset)), tasks=[
        task("a", execute_started_at=at(1).astimezone(offset))])
    text = jsonout.history_json(local)
    assert text == jsonout.history_json(local)
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True)
    data = json.loads(text)
    assert data["created_at"] == "2024-05-01T12:00:00.000000+00:00"
    assert data["tasks"][0]["execute_started_at"] == "2024-05-01T12:00:01.000000+00:00"


def test_jobs_json_keeps_order_and_unknowns_are_null() -> None:
    running = record(id="b", state=JobState.RUNNING, finished_at=None, owner="c1")
    data = json.loads(jsonout.dumps([views.job_summary_dict(r) for r in (running, record(id="a"))]))
    assert [j["id"] for j in data] == ["b", "a"]
    assert set(data[0]) == JOB_KEYS
    assert data[0]["duration"] is None and data[0]["finished_at"] is None
    assert data[0]["owner"] == "c1"
    assert json.loads(jsonout.dumps([])) == []


def test_post_json_is_unchanged() -> None:
    data = json.loads(jsonout.dumps(views.job_dict(record())))
    assert set(data) == JOB_KEYS - {"updated_at", "duration", "board_job_id"}


# tables ----------------------------------------------------------------------


def text_of(renderable: Any) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(renderable)
    return out.getvalue()


def view_of(history: JobHistory, *, traceback: bool = False) -> Any:
    return text_of(render.history_view(views.history_dict(history, traceback=traceback),
                                       traceback=traceback))


def test_job_table_shows_tasks_states_and_failures() -> None:
    shown = view_of(history())
    for name in ("call-jim", "call-joe", "call-jmilkfan", "REVERTED",
                 "ValueError: out of service", "6f1c1e0e-0000-4000-8000-000000000001",
                 "12:00:01.000", "took 250 ms"):
        assert name in shown
    assert "Traceback" not in shown
    assert "File x" in view_of(history(), traceback=True)


def test_job_without_tasks_says_so() -> None:
    shown = view_of(JobHistory(record(state=JobState.POSTED), []))
    assert "POSTED" in shown and "no task has started yet" in shown


def test_jobs_table_lists_each_job() -> None:
    shown = text_of(render.jobs_table([views.job_summary_dict(r) for r in (
        record(id="job-1"),
        record(id="job-2", state=JobState.SUCCESS, flow_name="create-volume"))]))
    assert "job-1" in shown and "REVERTED" in shown
    assert "job-2" in shown and "SUCCESS" in shown and "create-volume" in shown
    assert shown.index("job-1") < shown.index("job-2")


def test_markup_in_names_is_shown_as_is() -> None:
    shown = text_of(render.tasks_table([views.task_dict(task("[bold]odd[/bold]"))]))
    assert "[bold]odd[/bold]" in shown


@pytest.mark.parametrize("seconds, text", [
    (None, ""), (0.0021, "2 ms"), (1.254, "1.25 s"), (184, "3m 04s"), (7500, "2h 05m"),
])
def test_human_duration(seconds: float | None, text: str) -> None:
    assert render.human_duration(seconds) == text


# --since and other options ---------------------------------------------------


NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, ago", [
    ("30m", timedelta(minutes=30)), ("1h", timedelta(hours=1)),
    ("2d", timedelta(days=2)), ("45s", timedelta(seconds=45)),
    ("1w", timedelta(weeks=1)), ("1.5h", timedelta(minutes=90)),
    (" 2D ", timedelta(days=2)), ("0m", timedelta(0)),
])
def test_relative_since(text: str, ago: timedelta) -> None:
    assert parse_since(text, NOW) == NOW - ago


@pytest.mark.parametrize("text, expected", [
    ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
    ("2024-05-01T12:30", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    ("2024-05-01 12:30:15Z", datetime(2024, 5, 1, 12, 30, 15, tzinfo=UTC)),
    ("2024-05-01T12:30:00+02:00", datetime(2024, 5, 1, 10, 30, tzinfo=UTC)),
])
def test_absolute_since_is_utc(text: str, expected: datetime) -> None:
    parsed = parse_since(text, NOW)
    assert parsed == expected and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["yesterday", "-1h", "1y", "", "h", "2024-13-01"])
def test_bad_since(text: str) -> None:
    with pytest.raises(ValueError, match="neither an ISO-8601 date or time"):
        parse_since(text, NOW)


@pytest.mark.parametrize("args, message", [
    (["--since", "soon"], "'soon' is neither an ISO-8601"),
    (["--state", "DONE"], "'DONE' is not one of 'POSTING', 'POSTED'"),
    (["--limit", "0"], "0 is not in the range 1<=x<=1000"),
])
def test_bad_list_options_are_usage_errors(args: list[str], message: str) -> None:
    # Refused while parsing: no configuration or database is needed.
    result = CliRunner().invoke(jobs, ["list", *args])
    assert result.exit_code == 2
    assert message in result.output


# reading TaskFlow's atom details ---------------------------------------------


def stamp(seconds: float) -> float:
    return at(seconds).timestamp()


def atom(name: str, state: str, **meta: float) -> Any:
    detail = tf_models.TaskDetail(name, uuid=f"uuid-{name}")
    detail.state = state
    detail.meta = {f"{k}-timestamp": v for k, v in meta.items()}
    return detail


def captured_failure() -> Any:
    try:
        raise ValueError("JmilkFan's line is out of service")
    except ValueError:
        return tf_failure.Failure()


def test_task_history_converts_failures_and_times() -> None:
    detail = atom("call-jmilkfan", "REVERTED", RUNNING=stamp(1), FAILURE=stamp(1.5),
                  REVERTING=stamp(2), REVERTED=stamp(2.25))
    detail.intention = "REVERT"
    detail.failure = captured_failure()
    history = task_history(detail)
    assert history.state == "REVERTED" and history.intention == "REVERT"
    assert history.result is None and history.revert_failure is None
    assert history.failure is not None
    assert history.failure.type == "ValueError"
    assert history.failure.message == "JmilkFan's line is out of service"
    assert history.failure.traceback is not None
    assert history.failure.traceback.startswith("Traceback (most recent call last):")
    assert "captured_failure" in history.failure.traceback
    assert history.failure.traceback.endswith(
        "ValueError: JmilkFan's line is out of service")
    assert (history.execute_started_at, history.execute_finished_at) == (at(1), at(1.5))
    assert (history.revert_started_at, history.revert_finished_at) == (at(2), at(2.25))
    assert history.execute_duration == 0.5 and history.revert_duration == 0.25


def test_a_task_run_again_shows_its_last_run() -> None:
    # First run failed and was reverted; after a reset it ran again and succeeded.
    detail = atom("step", "SUCCESS", RUNNING=stamp(10), FAILURE=stamp(2),
                  REVERTING=stamp(3), REVERTED=stamp(4), PENDING=stamp(5),
                  SUCCESS=stamp(11))
    history = task_history(detail)
    assert (history.execute_started_at, history.execute_finished_at) == (at(10), at(11))
    assert history.revert_started_at is None and history.revert_finished_at is None


def test_a_task_reset_after_its_run_has_not_started() -> None:
    detail = atom("step", "PENDING", RUNNING=stamp(1), SUCCESS=stamp(2), PENDING=stamp(3))
    history = task_history(detail)
    assert history.execute_started_at is None and history.execute_finished_at is None


def test_a_running_task_has_no_end() -> None:
    detail = atom("step", "RUNNING", RUNNING=stamp(1))
    detail.meta["progress"] = 0.5
    history = task_history(detail)
    assert history.execute_started_at == at(1) and history.execute_finished_at is None
    assert history.execute_duration is None and history.progress == 0.5


def test_results_are_made_json_safe() -> None:
    class Thing:
        def __str__(self) -> str:
            return "a thing"

    value = {"t": (1, 2), 3: {"s": {"b", "a"}}, "x": Thing(), "nan": float("nan"),
             "ok": [None, True, 1.5, "s"]}
    safe = json_safe(value)
    assert safe == {"t": [1, 2], "3": {"s": ["a", "b"]}, "x": "a thing", "nan": "nan",
                    "ok": [None, True, 1.5, "s"]}
    json.dumps(safe, allow_nan=False)




def test_job_tasks_in_execution_order(db: Database) -> None:
    book = tf_models.LogBook("book")
    flow = tf_models.FlowDetail("flow", uuid="fd-1")
    book.add(flow)
    injector = atom("_TaskFlow_INJECTOR", "SUCCESS")
    injector.results = {"jim_number": "1"}
    later = atom("b-later", "SUCCESS", RUNNING=stamp(2), SUCCESS=stamp(3))
    first = atom("z-first", "SUCCESS", RUNNING=stamp(1), SUCCESS=stamp(2))
    first.results = {"n": {1, 2}}
    for detail in (injector, atom("y-never", "PENDING"), later, atom("x-never", "PENDING"),
                   first):
        flow.add(detail)
    db.taskflow_backend().get_connection().save_logbook(book)

    tasks = job_tasks(db, "fd-1")
    assert [t.name for t in tasks] == ["z-first", "b-later", "x-never", "y-never"]
    assert tasks[0].result == {"n": [1, 2]}
    assert tasks[0].execute_started_at == at(1)
    assert tasks[2].state == "PENDING" and tasks[2].execute_started_at is None
    assert job_tasks(db, "no-such-flow-detail") == []


# progress --------------------------------------------------------------------


def test_snapshot_counts_execute_and_revert() -> None:
    running = JobHistory(record(state=JobState.RUNNING, owner="c1"), [
        task("a", "SUCCESS", intention="EXECUTE", revert_started_at=None,
             revert_finished_at=None),
        task("b", "RUNNING", intention="EXECUTE", execute_finished_at=None,
             revert_started_at=None, revert_finished_at=None),
        task("c", "PENDING", intention="EXECUTE", execute_started_at=None,
             execute_finished_at=None, revert_started_at=None, revert_finished_at=None),
    ])
    now = snapshot(running)
    assert (now.total, now.executed, now.running) == (3, 1, ("b",))
    assert not now.is_reverting
    assert now.summary() == "executed 1/3, running b"
    assert now.job_line() == "RUNNING on c1 (attempt 1)"

    reverting = JobHistory(record(state=JobState.RUNNING, owner="c1"), [
        task("a", "REVERTING", revert_finished_at=None),
        task("b", "REVERTED"),
        task("c", "FAILURE", failure=BOOM, revert_started_at=None,
             revert_finished_at=None),
    ])
    now = snapshot(reverting)
    assert (now.revert_total, now.reverted, now.reverting) == (3, 1, ("a",))
    # c raised: its execute ended, yet it did not execute
    assert now.summary() == "executed 2/3, failed c, reverted 1/3, reverting a"


def test_plain_progress_prints_only_changes() -> None:
    out = io.StringIO()
    reporter = PlainReporter(Console(file=out, width=80, color_system=None))
    posted = JobHistory(record(state=JobState.POSTED, attempts=0, finished_at=None), [])
    reporter.update(posted)
    reporter.update(posted)
    reporter.update(history())
    reporter.update(history())
    assert out.getvalue().splitlines() == [
        "  POSTED (attempt 0)",
        "  call-jim: REVERTED",
        "  call-joe: REVERTED",
        "  call-jmilkfan: REVERTED (failed: ValueError: out of service)",
        "  executed 2/3, failed call-jmilkfan, reverted 3/3",
        "  REVERTED (attempt 1)",
    ]


def test_plain_progress_shows_reverts_in_the_order_they_ran() -> None:
    out = io.StringIO()
    reporter = PlainReporter(Console(file=out, width=80, color_system=None))
    # One poll sees the whole revert: the last executed was reverted first.
    reporter.update(JobHistory(record(), [
        task("call-jim", revert_started_at=at(2.2), revert_finished_at=at(2.3)),
        task("call-joe", execute_started_at=at(1.5), revert_started_at=at(2.1),
             revert_finished_at=at(2.2)),
        task("call-jmilkfan", failure=BOOM, execute_started_at=at(1.75),
             revert_started_at=at(2.0), revert_finished_at=at(2.1)),
    ]))
    lines = [line.split(":")[0].strip() for line in out.getvalue().splitlines()
             if line.strip().startswith("call-")]
    assert lines == ["call-jmilkfan", "call-joe", "call-jim"]


def test_the_cancellation_failure_type_is_the_engines_own() -> None:
    from orchestrator import engines, errors

    cls = engines.JobCancelled
    assert errors.CANCELLATION_TYPE == f"{cls.__module__}.{cls.__qualname__}"
