"""Creating, listing, pausing, resuming and deleting schedules.

The CLI and the HTTP API go through ``ScheduleService``; the flow and store
are checked as a post checks them, by the ``Orchestrator`` it is given.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import persistence
from orchestrator import validation
from orchestrator.errors import InvalidSchedule, ScheduleExists, ScheduleNotFound
from orchestrator.schedules.cron import PREVIEW, Cron
from orchestrator.service import PRIORITIES, Orchestrator, check_schema

#: A schedule's name: what the CLI and the URLs name it by.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
#: Fires a schedule's history shows, newest first.
HISTORY = 20


@dataclass(frozen=True)
class ScheduleView:
    """A schedule, its next fire times (none while paused) and its last fires."""

    record: persistence.ScheduleRecord
    preview: list[datetime]
    fires: list[persistence.FireRecord] = field(default_factory=list)
    #: False when ``create`` found the same schedule made earlier (a retried create).
    created: bool = True


class ScheduleService:
    """Schedules, stored in ``database``; flows and stores checked by ``orchestrator``."""

    def __init__(self, database: persistence.Database, orchestrator: Orchestrator, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._db = database
        self._orchestrator = orchestrator
        self._clock = clock
        self._schema_checked = False

    def create(self, name: str, flow: str, store: Mapping[str, Any] | None, cron: str, *,
               timezone: str = "UTC", missed: str = "skip", priority: str = "NORMAL",
               created_by: str | None = None) -> ScheduleView:
        """Add a schedule; its first fire is the first fire time after now.

        The same schedule created again (a retried create) is returned with
        ``created`` False; another one of the same name is ``ScheduleExists``.
        """
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise InvalidSchedule(
                f"invalid schedule name {name!r:.80}: 1 to 128 letters, digits, '.', '_' "
                "or '-', starting with a letter or a digit")
        if missed not in persistence.MISSED_POLICIES:
            raise InvalidSchedule(f"unknown missed policy {missed!r}; one of: "
                                  + ", ".join(persistence.MISSED_POLICIES))
        priority = priority.upper() if isinstance(priority, str) else priority
        if priority not in PRIORITIES:
            raise InvalidSchedule(f"unknown priority {priority!r}; one of: "
                                  + ", ".join(PRIORITIES))
        checked = Cron(cron, timezone)
        store = {} if store is None else dict(store)
        if not isinstance(flow, str):
            raise InvalidSchedule("name the flow the schedule posts")
        flow_name, _label, _unused = self._orchestrator.validate(flow, store,
                                                                priority=priority)
        if created_by is not None:
            validation.check_text(created_by, "the creator's name")
            created_by = created_by[:255]
        self._check_schema()
        now = self._clock()
        record = persistence.ScheduleRecord(
            id=str(uuid.uuid4()), name=name, flow_name=flow_name, store=store,
            priority=priority, cron=checked.expression, timezone=checked.timezone,
            missed=missed, paused=False, created_at=now, updated_at=now,
            next_fire_at=checked.after(now), created_by=created_by)
        try:
            with self._db.session() as session:
                earlier = persistence.get_schedule(session, name)
                if earlier is None:
                    persistence.insert_schedule(session, record)
        except persistence.PersistenceError:
            # Another create of that name won the race (the unique name).
            with self._db.session() as session:
                earlier = persistence.get_schedule(session, name)
            if earlier is None:
                raise
        if earlier is None:
            return self._view(record, [])
        if _definition(earlier) != _definition(record):
            raise ScheduleExists(name)
        return dataclasses.replace(self.get(name), created=False)

    def list_all(self) -> list[ScheduleView]:
        """Every schedule by name, with its next fire times."""
        self._check_schema()
        with self._db.session() as session:
            found = persistence.list_schedules(session)
        return [self._view(record, []) for record in found]

    def get(self, name: str, history: int = HISTORY) -> ScheduleView:
        """The schedule, its next fire times and its last ``history`` fires."""
        record, fires = self._read(name, history)
        return self._view(record, fires)

    def pause(self, name: str) -> ScheduleView:
        """Stop firing: no fire time is handled while it is paused."""
        return self._set_paused(name, True, None)

    def resume(self, name: str) -> ScheduleView:
        """Fire again, from the first fire time after now: those that passed while
        it was paused are not posted."""
        record, _fires = self._read(name, 0)
        if not record.paused:
            return self.get(name)  # its due fire times stay due
        return self._set_paused(name, False, Cron(record.cron, record.timezone)
                                .after(self._clock()))

    def delete(self, name: str) -> None:
        """Delete the schedule and its history; the jobs it posted stay."""
        self._check_name(name)
        self._check_schema()
        with self._db.session() as session:
            if not persistence.delete_schedule(session, name):
                raise ScheduleNotFound(name)

    # internals -------------------------------------------------------------

    def _set_paused(self, name: str, paused: bool,
                    next_fire_at: datetime | None) -> ScheduleView:
        self._check_name(name)
        self._check_schema()
        with self._db.session() as session:
            if not persistence.set_paused(session, name, paused, self._clock(), next_fire_at):
                raise ScheduleNotFound(name)
        return self.get(name)

    def _read(self, name: str, history: int
              ) -> tuple[persistence.ScheduleRecord, list[persistence.FireRecord]]:
        self._check_name(name)
        self._check_schema()
        with self._db.session() as session:
            record = persistence.get_schedule(session, name)
            if record is None:
                raise ScheduleNotFound(name)
            fires = persistence.schedule_fires(session, record.id, history) if history else []
        return record, fires

    def _view(self, record: persistence.ScheduleRecord,
              fires: list[persistence.FireRecord]) -> ScheduleView:
        preview: list[datetime] = []
        if not record.paused:
            cron = Cron(record.cron, record.timezone)
            preview = [record.next_fire_at,
                       *cron.preview(record.next_fire_at, PREVIEW - 1)]
        return ScheduleView(record=record, preview=preview, fires=fires)

    def _check_name(self, name: str) -> None:
        validation.check_text(name, "the schedule name")

    def _check_schema(self) -> None:
        if not self._schema_checked:
            check_schema(self._db)
            self._schema_checked = True


def _definition(record: persistence.ScheduleRecord) -> tuple[Any, ...]:
    """What a create says: the same again is a retry, anything else a conflict."""
    return (record.flow_name, record.store, record.priority, record.cron, record.timezone,
            record.missed)
