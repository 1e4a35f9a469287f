"""Fire times of cron expressions, and the missed policy, with a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.errors import InvalidSchedule
from orchestrator.schedules import Cron, PlannedFire, idempotency_key, plan


def at(hour: int, minute: int, second: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 1, day, hour, minute, second, tzinfo=UTC)


EVERY_10 = Cron("*/10 * * * *")


def test_next_fire_times_are_strictly_after_and_in_utc() -> None:
    assert EVERY_10.after(at(12, 0)) == at(12, 10)
    assert EVERY_10.after(at(12, 3)) == at(12, 10)
    assert EVERY_10.preview(at(12, 0), 3) == [at(12, 10), at(12, 20), at(12, 30)]
    assert EVERY_10.last_before(at(12, 0)) == at(11, 50)


def test_six_fields_put_seconds_last() -> None:
    every_2s = Cron("* * * * * */2")
    assert every_2s.preview(at(12, 0, 1), 3) == [at(12, 0, 2), at(12, 0, 4), at(12, 0, 6)]


def test_time_zone_reads_the_expression_in_local_time_across_dst() -> None:
    paris = Cron("30 9 * * *", "Europe/Paris")
    # Winter: UTC+1; after the last Sunday of March: UTC+2.
    assert paris.after(datetime(2026, 1, 10, tzinfo=UTC)) == datetime(2026, 1, 10, 8, 30,
                                                                       tzinfo=UTC)
    assert paris.after(datetime(2026, 4, 10, tzinfo=UTC)) == datetime(2026, 4, 10, 7, 30,
                                                                       tzinfo=UTC)


@pytest.mark.parametrize("expression, timezone, message", [
    ("* * * *", "UTC", "give 5 fields"),
    ("* * * * * * *", "UTC", "give 5 fields"),
    ("61 * * * *", "UTC", "invalid cron expression '61 * * * *'"),
    ("nonsense here x y z", "UTC", "invalid cron expression"),
    ("* * * * *", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ("* * * * *", "../etc/passwd", "unknown time zone"),
])
def test_invalid_expressions_and_zones_are_refused_clearly(
        expression: str, timezone: str, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message.replace("*", r"\*")):
        Cron(expression, timezone)


def test_nothing_is_due_before_the_next_fire_time() -> None:
    assert plan(EVERY_10, at(12, 10), at(12, 9, 59), grace=60, missed="skip") == (
        [], at(12, 10))


def test_a_due_fire_time_is_posted_and_the_next_one_follows() -> None:
    fires, after = plan(EVERY_10, at(12, 10), at(12, 10, 0), grace=60, missed="skip")
    assert fires == [PlannedFire(at(12, 10), post=True)]
    assert after == at(12, 20)


def test_fire_times_within_the_grace_are_each_posted_late() -> None:
    fires, after = plan(EVERY_10, at(12, 10), at(12, 31), grace=1800, missed="skip")
    assert fires == [PlannedFire(at(12, 10), post=True), PlannedFire(at(12, 20), post=True),
                     PlannedFire(at(12, 30), post=True)]
    assert after == at(12, 40)


def test_skip_records_missed_fire_times_as_one_skipped_fire() -> None:
    fires, after = plan(EVERY_10, at(11, 0), at(12, 0, 30), grace=60, missed="skip")
    assert [(f.fire_at, f.post) for f in fires] == [(at(11, 50), False), (at(12, 0), True)]
    assert fires[0].detail == ("6 fire times from 2026-01-01T11:00:00+00:00 to "
                               "2026-01-01T11:50:00+00:00 missed: skipped")
    assert after == at(12, 10)


def test_run_once_posts_the_latest_missed_fire_time_only() -> None:
    fires, after = plan(EVERY_10, at(11, 0), at(12, 5), grace=60, missed="run_once")
    assert [(f.fire_at, f.post) for f in fires] == [(at(12, 0), True)]
    assert fires[0].detail is not None and "once for 7 fire times" in fires[0].detail
    assert after == at(12, 10)


def test_a_single_missed_fire_time_is_named() -> None:
    fires, _after = plan(EVERY_10, at(12, 0), at(12, 5), grace=60, missed="skip")
    assert fires == [PlannedFire(at(12, 0), post=False, detail=(
        "the fire time of 2026-01-01T12:00:00+00:00 missed: skipped"))]


def test_a_long_outage_of_a_fast_schedule_is_bounded() -> None:
    every_s = Cron("* * * * * *")
    now = at(12, 0) + timedelta(days=3)
    fires, after = plan(every_s, at(12, 0), now, grace=5, missed="skip")
    # One skipped for three days; six within the grace (5 s old to now, inclusive).
    assert len(fires) == 7
    assert fires[0].detail is not None and "10000 or more fire times" in fires[0].detail
    assert after == now + timedelta(seconds=1)


def test_idempotency_keys_name_the_schedule_and_the_utc_fire_time() -> None:
    when = datetime(2026, 1, 1, 13, 0, tzinfo=UTC).astimezone()
    assert idempotency_key("s-1", when) == "schedule:s-1:2026-01-01T13:00:00+00:00"
