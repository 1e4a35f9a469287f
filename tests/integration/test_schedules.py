"""Schedules fired by schedulers contending for the leadership in a real
ZooKeeper, on SQLite and PostgreSQL: each fire time posts one job, once.

The schedulers' clock is a variable the test moves: each turn is driven by
the test, so nothing waits on wall-clock time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import jobs
import persistence
from orchestrator import Orchestrator
from orchestrator.errors import (
    InvalidSchedule,
    MissingInputs,
    ScheduleExists,
    ScheduleNotFound,
    UnknownFlow,
)
from orchestrator.registry import FlowRegistry
from orchestrator.schedules import (
    Scheduler,
    SchedulerSettings,
    ScheduleService,
    idempotency_key,
)
from persistence.models import JobRow, ScheduleFireRow

pytestmark = pytest.mark.integration

REGISTRY = FlowRegistry.from_entry_points()
START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def board_settings(zk_hosts: str, jobboard_path: str) -> jobs.JobboardSettings:
    return jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path, connect_timeout=10,
                                 session_timeout=4.0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stack() -> Iterator[ExitStack]:
    with ExitStack() as stack:
        yield stack


@pytest.fixture
def service(database: persistence.Database, board_settings: jobs.JobboardSettings,
            clock: Clock, stack: ExitStack) -> ScheduleService:
    orch = stack.enter_context(Orchestrator(database, REGISTRY, board_settings))
    return ScheduleService(database, orch, clock=clock)


def scheduler(name: str, database: persistence.Database,
              board_settings: jobs.JobboardSettings, clock: Clock, stack: ExitStack,
              *, lead: bool = True, grace: float = 30.0) -> tuple[Scheduler, jobs.Board]:
    """A scheduler as a conductor runs one: its own board and its own poster."""
    board = stack.enter_context(jobs.open_jobboard(board_settings, name, watch=False))
    poster = stack.enter_context(Orchestrator(database, REGISTRY, board_settings,
                                              client_name=f"{name}-scheduler"))
    leadership = (jobs.Leadership(board.client, board_settings.scheduler_path, name)
                  if lead else None)
    return Scheduler(database, poster, leadership,
                     SchedulerSettings(interval=0.1, misfire_grace=grace),
                     clock=clock), board


def fires(database: persistence.Database) -> list[tuple[datetime, str, str | None]]:
    with database.session() as session:
        rows = session.execute(select(ScheduleFireRow.fire_at, ScheduleFireRow.outcome,
                                      ScheduleFireRow.job_id)
                               .order_by(ScheduleFireRow.fire_at))
        return [(row[0], row[1], row[2]) for row in rows]


def job_keys(database: persistence.Database) -> list[str]:
    with database.session() as session:
        return sorted(k for k in session.scalars(select(JobRow.idempotency_key)) if k)


def test_two_schedulers_one_leader_each_fire_posted_once_and_a_takeover(
        service: ScheduleService, database: persistence.Database,
        board_settings: jobs.JobboardSettings, clock: Clock, stack: ExitStack) -> None:
    created = service.create("every-10s", "bench-1-task", {}, "* * * * * */10")
    schedule_id = created.record.id
    assert created.preview[:2] == [START + timedelta(seconds=10), START + timedelta(seconds=20)]
    first, first_board = scheduler("first", database, board_settings, clock, stack)
    second, _second_board = scheduler("second", database, board_settings, clock, stack)

    for step in range(1, 4):
        clock.now = START + timedelta(seconds=10 * step)
        assert first.turn() == 1
        assert second.turn() == 0  # it does not lead
    assert [outcome for _at, outcome, _job in fires(database)] == ["posted"] * 3

    # The leader's client stops: its ephemeral node goes at once, and the
    # other takes over from the next fire time on, two of them due now.
    first_board.close()
    clock.now = START + timedelta(seconds=50)
    assert second.turn() == 2
    recorded = fires(database)
    assert [at for at, _o, _j in recorded] == [START + timedelta(seconds=10 * s)
                                               for s in range(1, 6)]
    assert all(outcome == "posted" for _at, outcome, _job in recorded)
    assert job_keys(database) == sorted(idempotency_key(schedule_id, at)
                                        for at, _o, _j in recorded)
    assert len({job for _at, _o, job in recorded}) == 5


def test_schedulers_racing_without_a_leader_still_post_each_fire_once(
        service: ScheduleService, database: persistence.Database,
        board_settings: jobs.JobboardSettings, clock: Clock, stack: ExitStack) -> None:
    # As when a leader that lost its session has not noticed yet.
    service.create("racy", "bench-1-task", {}, "* * * * * *")
    racers = [scheduler(f"racer-{i}", database, board_settings, clock, stack,
                        lead=False)[0] for i in range(4)]
    for second in range(1, 4):
        clock.now = START + timedelta(seconds=second * 3)
        barrier = threading.Barrier(len(racers))

        def race(s: Scheduler, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            s.turn()

        threads = [threading.Thread(target=race, args=(s,)) for s in racers]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    recorded = fires(database)
    assert [at for at, _o, _j in recorded] == [START + timedelta(seconds=s)
                                               for s in range(1, 10)]
    assert len({job for _at, _o, job in recorded}) == 9
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(JobRow)) == 9


@pytest.mark.parametrize("missed, outcomes", [
    ("skip", ["skipped", "posted"]),
    ("run_once", ["posted", "posted"]),
])
def test_missed_fire_times_follow_the_schedule_policy(
        service: ScheduleService, database: persistence.Database,
        board_settings: jobs.JobboardSettings, clock: Clock, stack: ExitStack,
        missed: str, outcomes: list[str]) -> None:
    service.create("hourly", "bench-1-task", {}, "0 * * * *", missed=missed)
    only, _board = scheduler("only", database, board_settings, clock, stack, grace=60)
    # Everything was down from 12:00 to 16:00:30: 13:00, 14:00 and 15:00 were
    # missed, 16:00 is within the grace.
    clock.now = START + timedelta(hours=4, seconds=30)
    assert only.turn() == 2
    recorded = fires(database)
    assert [at for at, _o, _j in recorded] == [START + timedelta(hours=3),
                                               START + timedelta(hours=4)]
    assert [o for _at, o, _j in recorded] == outcomes
    assert len(job_keys(database)) == outcomes.count("posted")
    assert service.get("hourly").record.next_fire_at == START + timedelta(hours=5)


def test_a_fire_the_dead_leader_posted_but_did_not_record_is_recorded_once(
        service: ScheduleService, database: persistence.Database,
        board_settings: jobs.JobboardSettings, clock: Clock, stack: ExitStack) -> None:
    created = service.create("half-done", "bench-1-task", {}, "0 * * * *", missed="skip")
    fire_at = START + timedelta(hours=1)
    # The dead leader posted its job, then died before recording the fire.
    orch = stack.enter_context(Orchestrator(database, REGISTRY, board_settings))
    job = orch.post("bench-1-task", {}, idempotency_key=idempotency_key(created.record.id,
                                                                        fire_at))
    successor, _board = scheduler("successor", database, board_settings, clock, stack,
                                  grace=5)
    clock.now = fire_at + timedelta(minutes=10)  # long past the grace
    assert successor.turn() == 1
    assert fires(database) == [(fire_at, "posted", job.id)]
    assert job_keys(database) == [idempotency_key(created.record.id, fire_at)]


def test_pause_resume_delete_and_bad_input(
        service: ScheduleService, database: persistence.Database,
        board_settings: jobs.JobboardSettings, clock: Clock, stack: ExitStack) -> None:
    service.create("nightly", "create-volume",
                   {"raw_size": 1, "raw_availability_zone": "a", "raw_volume_type": "b"},
                   "0 2 * * *", timezone="Europe/Paris", priority="low")
    with pytest.raises(ScheduleExists):
        service.create("nightly", "bench-1-task", {}, "0 2 * * *")
    retried = service.create("nightly", "create-volume", {"raw_size": 1,
                             "raw_availability_zone": "a", "raw_volume_type": "b"},
                             "0 2 * * *", timezone="Europe/Paris", priority="LOW")
    assert not retried.created and retried.record.priority == "LOW"
    with pytest.raises(UnknownFlow):
        service.create("other", "no-such-flow", {}, "0 2 * * *")
    with pytest.raises(MissingInputs):
        service.create("other", "create-volume", {}, "0 2 * * *")
    with pytest.raises(InvalidSchedule, match="missed policy"):
        service.create("other", "bench-1-task", {}, "0 2 * * *", missed="sometimes")
    with pytest.raises(InvalidSchedule, match="schedule name"):
        service.create("no spaces", "bench-1-task", {}, "0 2 * * *")
    view = service.get("nightly")
    assert view.record.priority == "LOW"
    assert view.preview[0] == datetime(2026, 1, 2, 1, 0, tzinfo=UTC)  # 02:00 in Paris
    assert len(view.preview) == 5

    only, _board = scheduler("only", database, board_settings, clock, stack)
    paused = service.pause("nightly")
    assert paused.record.paused and paused.preview == []
    clock.now = START + timedelta(days=2)
    assert only.turn() == 0  # paused: nothing fires
    resumed = service.resume("nightly")
    # The fire times that passed while paused are not posted.
    assert resumed.record.next_fire_at == datetime(2026, 1, 4, 1, 0, tzinfo=UTC)
    assert only.turn() == 0
    assert fires(database) == []
    assert [v.record.name for v in service.list_all()] == ["nightly"]
    service.delete("nightly")
    assert service.list_all() == []
    for action in (service.get, service.pause, service.resume, service.delete):
        with pytest.raises(ScheduleNotFound):
            action("nightly")
