"""Why a job is or is not running: each answer from the facts that lead to it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs import ConductorInfo
from orchestrator.explain import Facts, explain_job
from persistence import AttemptOutcome, AttemptRecord, JobPass, JobRecord, JobState

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def record(**changes: Any) -> JobRecord:
    base = JobRecord(id="job-1", flow_name="create-volume", state=JobState.POSTED,
                     store={}, created_at=NOW, updated_at=NOW, started_at=None,
                     finished_at=None, attempts=0, owner=None, logbook_id="l",
                     flow_detail_id="f", board_job_id="p", last_error=None)
    return dataclasses.replace(base, **changes)


def conductor(name: str, flows: list[str] | None = None, slots: int = 2) -> ConductorInfo:
    return ConductorInfo(name=name, entity=f"{name}@h:1", hostname="h", pid=1,
                         registered_at=NOW, metadata={
                             "max_simultaneous_jobs": slots,
                             "flows": ["create-volume"] if flows is None else flows})


def facts(job: JobRecord, conductors: list[ConductorInfo] | None = None, *,
          running: dict[str, int] | None = None, ahead: int = 0,
          attempts: list[AttemptRecord] | None = None,
          passes: list[JobPass] | None = None) -> Facts:
    return Facts(record=job, attempts=attempts or [], passes=passes or [],
                 conductors=[] if conductors is None else conductors, board_error=None,
                 running_by_owner=running or {}, ahead=ahead, now=NOW)


def test_no_conductor_alive() -> None:
    said = explain_job(facts(record()))
    assert "no conductor is alive" in said.summary
    assert said.holder is None


def test_no_live_conductor_has_the_flow_and_who_passed_it_over() -> None:
    passed = JobPass("c1", "flow 'create-volume' is not registered on conductor c1", NOW)
    said = explain_job(facts(record(), [conductor("c1", flows=["phone-calls"])],
                             passes=[passed]))
    assert "no live conductor has flow 'create-volume' (alive: c1)" in said.summary
    assert any("c1 passed it over" in r for r in said.reasons)


def test_every_slot_busy_with_jobs_ahead() -> None:
    said = explain_job(facts(record(), [conductor("c1", slots=2)], running={"c1": 2},
                             ahead=3))
    assert "every slot is busy (2 of 2" in said.summary
    assert "3 jobs ahead of it by priority" in said.summary


def test_a_free_slot_means_it_starts_soon() -> None:
    said = explain_job(facts(record(), [conductor("c1", slots=4)], running={"c1": 1}))
    assert "3 free slots" in said.summary and "no job ahead" in said.summary


def test_backing_off_after_an_attempt() -> None:
    until = NOW + timedelta(seconds=30)
    job = record(attempts=2, not_before=until, last_error="storage unavailable: gone")
    said = explain_job(facts(job, [conductor("c1")]))
    assert "backing off until 2026-11-30 12:00:30 UTC after attempt 2" in said.summary
    assert said.next_attempt_at == until
    assert "last attempt: storage unavailable: gone" in said.reasons


def test_running_names_its_holder_since_its_attempt_began() -> None:
    began = NOW - timedelta(minutes=5)
    attempt = AttemptRecord("job-1", 1, "c1", began, None, None, None, "step-2", None)
    job = record(state=JobState.RUNNING, owner="c1", attempts=1)
    said = explain_job(facts(job, [conductor("c1")], attempts=[attempt]))
    assert said.holder is not None
    assert (said.holder.conductor, said.holder.since, said.holder.alive) == ("c1", began,
                                                                             True)
    assert "running on conductor c1 since 2026-11-30 11:55:00 UTC" in said.summary
    gone = explain_job(facts(job, [conductor("c2")], attempts=[attempt]))
    assert gone.holder is not None and gone.holder.alive is False
    assert "not alive" in gone.summary and "takes it over" in gone.summary


def test_quarantined_and_cancelled_are_said_as_such() -> None:
    quarantined = record(state=JobState.FAILED, finished_at=NOW, attempts=3,
                         last_error="quarantined after 3 attempts; conductor c was lost")
    assert "quarantined" in explain_job(facts(quarantined)).summary
    cancelled = record(state=JobState.REVERTED, finished_at=NOW, attempts=1,
                       cancel_requested_at=NOW, cancel_requested_by="alice",
                       last_error="cancelled by alice")
    said = explain_job(facts(cancelled))
    assert said.summary.startswith("It was cancelled by alice at 2026-11-30 12:00:00 UTC")
    assert said.reasons == []


def test_an_earlier_release_conductor_without_a_flow_list_is_assumed_able() -> None:
    old = ConductorInfo(name="c0", entity="c0@h:1", hostname="h", pid=1,
                        registered_at=NOW, metadata={"max_simultaneous_jobs": 1})
    said = explain_job(facts(record(), [old]))
    assert "1 free slot on" in said.summary


def test_unknown_liveness_when_zookeeper_cannot_be_asked() -> None:
    unknown = dataclasses.replace(facts(record()), conductors=None,
                                  board_error="ZooKeeper is unreachable")
    said = explain_job(unknown)
    assert "unknown" in said.summary and "ZooKeeper is unreachable" in said.summary


def test_attempt_outcomes_are_persisted_names() -> None:
    # Stored in orchestrator_attempts.outcome and shown by the API: never rename.
    assert [o.value for o in AttemptOutcome] == [
        "finished", "cancelled", "suspended", "conductor_lost", "storage_error", "error"]


def test_a_job_waiting_for_its_concurrency_key_names_the_holder() -> None:
    from persistence import KeyHold

    job = record(concurrency_keys=("node:1", "rack:9"))
    holds = [KeyHold("node:1", 0, "job-9", 1, NOW - timedelta(minutes=2)),
             KeyHold("rack:9", 0, "job-8", 2, NOW)]  # one of two slots: not full
    said = explain_job(dataclasses.replace(
        facts(job, [conductor("c1")]), key_holds=holds))
    assert said.summary.startswith("It is waiting: its concurrency key node:1 is held "
                                   "by job job-9 (since 2026-11-30 11:58:00 UTC)")
    assert not any("rack:9" in r for r in said.reasons)
    # Its own slot (a claim being made) or free keys: the usual answer.
    own = [KeyHold("node:1", 0, "job-1", 1, NOW)]
    said = explain_job(dataclasses.replace(facts(job, [conductor("c1")]), key_holds=own))
    assert "free slot" in said.summary
