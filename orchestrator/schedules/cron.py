"""Fire times: cron expressions in a time zone, and what to do with fire times
that passed while no scheduler handled them.

Pure functions of their arguments (the clock is passed in): the scheduler
and the unit tests call them alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from orchestrator.errors import InvalidSchedule

#: Fire times a preview shows.
PREVIEW = 5
#: Fire times handled one by one within the grace, at most, per turn: a
#: schedule firing every second that waited long gets the rest as missed.
MAX_CATCH_UP = 100


@dataclass(frozen=True)
class Cron:
    """A checked cron expression and the IANA time zone it is read in.

    Five fields (minute hour day-of-month month day-of-week), or six with
    croniter's seconds field LAST (``* * * * * */2``: every 2 seconds).
    """

    expression: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        fields = self.expression.split()
        if len(fields) not in (5, 6):
            raise InvalidSchedule(
                f"invalid cron expression {self.expression!r}: give 5 fields (minute "
                "hour day-of-month month day-of-week) or 6 (the same, then seconds)")
        try:
            croniter(self.expression, datetime(2000, 1, 1, tzinfo=UTC))
        except (CroniterError, ValueError) as exc:
            raise InvalidSchedule(
                f"invalid cron expression {self.expression!r}: {exc}") from exc
        zone(self.timezone)

    def after(self, when: datetime) -> datetime:
        """The first fire time strictly after ``when`` (UTC)."""
        return next(self.times_after(when))

    def times_after(self, when: datetime) -> Iterator[datetime]:
        """The fire times strictly after ``when``, in order (UTC), for ever."""
        start = when.astimezone(zone(self.timezone))
        it = croniter(self.expression, start)
        while True:
            yield it.get_next(datetime).astimezone(UTC)

    def last_before(self, when: datetime) -> datetime:
        """The last fire time strictly before ``when`` (UTC)."""
        it = croniter(self.expression, when.astimezone(zone(self.timezone)))
        return it.get_prev(datetime).astimezone(UTC)

    def preview(self, after: datetime, count: int = PREVIEW) -> list[datetime]:
        times = self.times_after(after)
        return [next(times) for _ in range(count)]


def zone(name: str) -> ZoneInfo:
    """The IANA time zone of that name; InvalidSchedule if there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSchedule(f"unknown time zone {name!r}: give an IANA name such "
                              "as UTC or Europe/Paris") from exc


@dataclass(frozen=True)
class PlannedFire:
    """A fire time to handle: post a job for it, or record it skipped."""

    fire_at: datetime
    post: bool
    #: What the fire's record says (None: nothing to say).
    detail: str | None = None


def plan(cron: Cron, next_fire_at: datetime, now: datetime, *, grace: float,
         missed: str) -> tuple[list[PlannedFire], datetime]:
    """The fire times due at ``now`` from ``next_fire_at`` on, and the next one after.

    A fire time at most ``grace`` seconds old is posted, late (a leader taking
    over, a slow turn). Older ones were missed while no scheduler ran: with
    ``missed`` 'skip' they are recorded as one skipped fire (at the latest
    of them, saying how many); with 'run_once' that latest one is posted
    instead. Returns ([], next_fire_at) when nothing is due.
    """
    if next_fire_at > now:
        return [], next_fire_at
    fires: list[PlannedFire] = []
    late_until = now - timedelta(seconds=grace)
    first = next_fire_at
    if next_fire_at < late_until:
        latest = cron.last_before(late_until)
        latest = max(latest, next_fire_at)
        span = _span(cron, next_fire_at, latest)
        if missed == "run_once":
            fires.append(PlannedFire(latest, post=True,
                                     detail=f"posted late, once for {span} missed"))
        else:
            fires.append(PlannedFire(latest, post=False, detail=f"{span} missed: skipped"))
        first = cron.after(latest)
    for when in _until(cron, first, now):
        if len(fires) > MAX_CATCH_UP:
            break
        fires.append(PlannedFire(when, post=True))
    # The next fire time after the last handled one: MAX_CATCH_UP may leave
    # due ones to the next turn.
    return fires, cron.after(fires[-1].fire_at)


def _until(cron: Cron, first: datetime, now: datetime) -> Iterator[datetime]:
    """``first`` (a fire time) and the fire times after it, up to ``now``."""
    when = first
    times = cron.times_after(first)
    while when <= now:
        yield when
        when = next(times)


def _span(cron: Cron, first: datetime, latest: datetime) -> str:
    """'the fire time of <first>' or 'N fire times from <first> to <latest>'."""
    if first == latest:
        return f"the fire time of {first.isoformat()}"
    count = 1
    for when in cron.times_after(first):
        if when > latest or count >= 10_000:
            break
        count += 1
    many = f"{count}" if count < 10_000 else "10000 or more"
    return f"{many} fire times from {first.isoformat()} to {latest.isoformat()}"
