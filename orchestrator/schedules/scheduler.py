"""The scheduler: posts the jobs of schedules whose fire time has come.

Every conductor runs one, on a thread of its own; only the leader
(``jobs.Leadership``) fires. Each fire time is posted once, even when two
schedulers believe they lead for a moment:

* the job is posted with the idempotency key ``schedule:<id>:<fire time>``,
  so a second post of the same fire returns the first one's job;
* the fire is recorded, and the schedule's next fire time moved on, by one
  UPDATE conditional on the next fire time read (``advance_schedule``): one
  scheduler wins, the other leaves it.

A leader that took over handles fire times from the schedule's next fire time
on. A fire time the dead leader posted but did not record is found by its
idempotency key and recorded as posted; the others are posted late if at most
``misfire_grace`` seconds old, else they were missed while no scheduler ran
and the schedule's ``missed`` policy applies (``cron.plan``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import jobs
import persistence
from orchestrator.errors import OrchestratorError
from orchestrator.registry import FlowRegistry
from orchestrator.schedules.cron import Cron, PlannedFire, plan
from orchestrator.service import Orchestrator

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerSettings:
    """``[scheduler]``: whether a conductor fires schedules, and how."""

    enabled: bool = True
    #: Seconds between two looks at the schedules.
    interval: float = 1.0
    #: Seconds a fire time may be late and still be posted as it was.
    misfire_grace: float = 60.0


class _TryLater(Exception):
    """Posting failed in a way that may pass (ZooKeeper or the database away)."""


def idempotency_key(schedule_id: str, fire_at: datetime) -> str:
    """The idempotency key of a schedule's job for a fire time."""
    return f"schedule:{schedule_id}:{fire_at.astimezone(UTC).isoformat()}"


class Scheduler:
    """Fires due schedules when ``turn()`` is called and it leads."""

    def __init__(self, database: persistence.Database, poster: Orchestrator,
                 leadership: jobs.Leadership | None, settings: SchedulerSettings, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._db = database
        self._poster = poster
        self._leadership = leadership
        self.settings = settings
        self._clock = clock

    def turn(self) -> int:
        """Fire what is due, if this scheduler leads; returns the fires recorded."""
        if self._leadership is not None and not self._leadership.lead():
            return 0
        now = self._clock()
        with self._db.session() as session:
            due = persistence.due_schedules(session, now)
        handled = 0
        for record in due:
            try:
                handled += self._handle(record, now)
            except _TryLater as exc:
                LOG.warning("Schedule %s: cannot post now (%s); trying again next turn",
                            record.name, exc)
            except OrchestratorError as exc:
                LOG.warning("Schedule %s is broken: %s", record.name, exc)
        return handled

    def _handle(self, record: persistence.ScheduleRecord, now: datetime) -> int:
        cron = Cron(record.cron, record.timezone)
        old = record.next_fire_at
        handled = 0
        earlier = self._job_for(record, old)
        if earlier is not None:
            # Posted by a scheduler that died (or lost its session) before
            # recording it.
            fire = self._fire_record(record, PlannedFire(old, post=True), earlier,
                                     "posted by an earlier leader")
            new = cron.after(old)
            if not self._advance(record, old, new, fire):
                return handled
            handled, old = 1, new
        fires, after = plan(cron, old, now, grace=self.settings.misfire_grace,
                            missed=record.missed)
        for index, planned in enumerate(fires):
            new = fires[index + 1].fire_at if index + 1 < len(fires) else after
            fire = self._fire(record, planned)
            if not self._advance(record, old, new, fire):
                break  # another scheduler moved it on, or it was paused or deleted
            handled += 1
            old = new
        return handled

    def _fire(self, record: persistence.ScheduleRecord,
              planned: PlannedFire) -> persistence.FireRecord:
        if not planned.post:
            return self._fire_record(record, planned, None, planned.detail)
        key = idempotency_key(record.id, planned.fire_at)
        try:
            job = self._poster.post(record.flow_name, record.store,
                                    priority=record.priority, idempotency_key=key)
        except persistence.PersistenceError as exc:
            raise _TryLater(str(exc)) from exc
        except OrchestratorError as exc:
            if exc.retryable:
                raise _TryLater(str(exc)) from exc
            # The flow went, or no longer takes the store: said in the history.
            LOG.warning("Schedule %s: cannot post its job for %s: %s", record.name,
                        planned.fire_at.isoformat(), exc)
            return persistence.FireRecord(
                schedule_id=record.id, fire_at=planned.fire_at, outcome="error",
                job_id=None, detail=str(exc), recorded_at=self._clock())
        LOG.info("Schedule %s: posted job %s for %s", record.name, job.id,
                 planned.fire_at.isoformat())
        return self._fire_record(record, planned, job.id, planned.detail)

    def _fire_record(self, record: persistence.ScheduleRecord, planned: PlannedFire,
                     job_id: str | None, detail: str | None) -> persistence.FireRecord:
        return persistence.FireRecord(
            schedule_id=record.id, fire_at=planned.fire_at,
            outcome="posted" if job_id is not None else "skipped", job_id=job_id,
            detail=detail, recorded_at=self._clock())

    def _job_for(self, record: persistence.ScheduleRecord, fire_at: datetime) -> str | None:
        with self._db.session() as session:
            job = persistence.get_job_by_idempotency_key(
                session, idempotency_key(record.id, fire_at))
        return None if job is None else job.id

    def _advance(self, record: persistence.ScheduleRecord, old: datetime, new: datetime,
                 fire: persistence.FireRecord) -> bool:
        with self._db.session() as session:
            return persistence.advance_schedule(session, record.id, old=old, new=new,
                                                fire=fire)


class SchedulerThread:
    """Runs ``scheduler.turn()`` every interval on a daemon thread until ``stop()``."""

    def __init__(self, scheduler: Scheduler, name: str,
                 on_stop: Callable[[], None] | None = None) -> None:
        self._scheduler = scheduler
        self._stopping = threading.Event()
        self._on_stop = on_stop
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)

    def start(self) -> SchedulerThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    self._scheduler.turn()
                except persistence.PersistenceError as exc:
                    LOG.warning("The scheduler cannot read the schedules now: %s", exc)
                except Exception:  # noqa: BLE001 - the next turn tries again
                    LOG.exception("The scheduler's turn failed")
                self._stopping.wait(self._scheduler.settings.interval)
        finally:
            if self._on_stop is not None:
                self._on_stop()


def start_for_conductor(settings: SchedulerSettings, name: str, board: jobs.Board,
                        database: persistence.Database,
                        registry: Callable[[], FlowRegistry]) -> SchedulerThread | None:
    """A conductor's scheduler, contending for the leadership on its board's
    session, started; None if ``[scheduler] enabled`` is off.

    ``registry`` gives the conductor's flows now (they change on a reload):
    the leader checks a schedule's flow and store against them, as a post does.
    Its posts go through a board of their own, opened on the first one.
    """
    if not settings.enabled:
        return None
    poster = Orchestrator(database, None, board.settings, client_name=f"{name}-scheduler",
                          load_registry=registry)
    leadership = jobs.Leadership(board.client, board.settings.scheduler_path, name)

    def _on_stop() -> None:
        leadership.resign()
        poster.close()

    scheduler = Scheduler(database, poster, leadership, settings)
    return SchedulerThread(scheduler, f"scheduler-{name}", _on_stop).start()
