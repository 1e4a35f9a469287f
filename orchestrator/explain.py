"""Why a job is, or is not, running now: the answer operators ask for first.

Built from what the product already records (the job's record, its attempts,
the conductors that passed it over) and what ZooKeeper says now (the live
conductors, their flows and capacity). Reads only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import jobs
import persistence

JobState = persistence.JobState
_WAITING = (JobState.POSTING, JobState.POSTED, JobState.SUSPENDED)


@dataclass(frozen=True)
class Holder:
    """The conductor that holds a running job, and since when."""

    conductor: str
    since: datetime
    alive: bool | None


@dataclass(frozen=True)
class Explanation:
    """One sentence (``summary``), the details behind it, who holds the job, and
    when it may next be claimed (None: as soon as a conductor can)."""

    job_id: str
    state: str
    summary: str
    reasons: list[str] = field(default_factory=list)
    holder: Holder | None = None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class Facts:
    """What the explanation is built from; gathered by the service."""

    record: persistence.JobRecord
    attempts: Sequence[persistence.AttemptRecord]
    passes: Sequence[persistence.JobPass]
    #: The live conductors, or None when ZooKeeper could not be asked.
    conductors: Sequence[jobs.ConductorInfo] | None
    board_error: str | None
    running_by_owner: dict[str, int]
    ahead: int
    now: datetime
    #: The slots held now of the job's concurrency keys.
    key_holds: Sequence[persistence.KeyHold] = ()


def explain_job(facts: Facts) -> Explanation:
    record = facts.record
    if record.is_terminal:
        return _finished(record)
    if record.state is JobState.RUNNING:
        return _running(facts)
    return _waiting(facts)


def _t(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _finished(record: persistence.JobRecord) -> Explanation:
    when = f" at {_t(record.finished_at)}" if record.finished_at else ""
    reasons = [record.last_error] if record.last_error else []
    if record.cancelled:
        who = record.cancel_requested_by
        summary = (f"It was cancelled{' by ' + who if who else ''}{when}: "
                   "its steps were reverted. It will not run again; "
                   "'jobs retry' posts it anew.")
        reasons = []
    elif record.quarantined:
        summary = (f"It was quarantined{when}: its attempts kept losing their "
                   "conductor (a crash, a kill, the OOM killer). It will not run "
                   "again; fix the cause, then 'jobs retry' it.")
    elif record.state is JobState.SUCCESS:
        summary = f"It finished SUCCESS{when}."
    elif record.state is JobState.REVERTED:
        summary = f"It failed and was reverted{when}; 'jobs retry' posts it anew."
    else:
        summary = (f"It ended FAILED{when}: a step failed and could not be "
                   "reverted, or its attempts were used up.")
    return Explanation(record.id, record.state.value, summary, reasons)


def _current_attempt(facts: Facts) -> persistence.AttemptRecord | None:
    record = facts.record
    for attempt in facts.attempts:
        if attempt.number == record.attempts:
            return attempt
    return None


def _running(facts: Facts) -> Explanation:
    record = facts.record
    attempt = _current_attempt(facts)
    owner = record.owner or (attempt.conductor if attempt else "?")
    since = attempt.started_at if attempt is not None else record.updated_at
    alive = None if facts.conductors is None else any(
        c.name == owner for c in facts.conductors)
    reasons = []
    step = attempt.step if attempt is not None else None
    if step:
        reasons.append(f"last step started: {step}")
    if alive is False:
        summary = (f"It is recorded as running on conductor {owner} since {_t(since)} "
                   f"(attempt {record.attempts}), but that conductor is not alive: "
                   "another conductor takes it over and resumes it once the lost "
                   "conductor's ZooKeeper session expires.")
    else:
        summary = (f"It is running on conductor {owner} since {_t(since)} "
                   f"(attempt {record.attempts}).")
    if record.cancel_requested_at is not None:
        reasons.append(_cancel_note(record))
    if record.concurrency_keys:
        reasons.append("it holds concurrency key" + ("s " if len(record.concurrency_keys) > 1
                                                     else " ")
                       + ", ".join(record.concurrency_keys))
    if facts.board_error:
        reasons.append(facts.board_error)
    return Explanation(record.id, record.state.value, summary, reasons,
                       Holder(owner, since, alive))


def _full_keys(facts: Facts) -> list[str]:
    """For each of the job's keys that other jobs hold to its limit: who holds it."""
    by_key: dict[str, list[persistence.KeyHold]] = {}
    for hold in facts.key_holds:
        if hold.job_id != facts.record.id:
            by_key.setdefault(hold.key, []).append(hold)
    full = []
    for key, holds in sorted(by_key.items()):
        if len(holds) >= max(h.limit for h in holds):
            holders = ", ".join(f"job {h.job_id} (since {_t(h.since)})" for h in holds)
            full.append(f"concurrency key {key} is held by {holders}")
    return full


def _cancel_note(record: persistence.JobRecord) -> str:
    who = f" by {record.cancel_requested_by}" if record.cancel_requested_by else ""
    return (f"cancellation requested{who}: the job reverts at its next step "
            "boundary")


def _waiting(facts: Facts) -> Explanation:
    record = facts.record
    reasons: list[str] = []
    next_at = record.not_before if record.not_before and record.not_before > facts.now \
        else None
    if record.cancel_requested_at is not None:
        reasons.append(_cancel_note(record))
    if record.last_error:
        reasons.append(f"last attempt: {record.last_error}")
    reasons += [f"conductor {p.conductor} passed it over: {p.reason}" for p in facts.passes]
    if facts.conductors is None:
        summary = ("It is waiting to be claimed; whether any conductor can claim it is "
                   f"unknown: {facts.board_error or 'ZooKeeper could not be asked'}.")
        return Explanation(record.id, record.state.value, summary, reasons,
                           next_attempt_at=next_at)
    able = [c for c in facts.conductors if _has_flow(c, record)]
    if not facts.conductors:
        summary = ("It is waiting: no conductor is alive. Start one "
                   "('orchestrator conductor') and it claims the job.")
    elif not able:
        names = ", ".join(c.name for c in facts.conductors)
        summary = (f"It is waiting: no live conductor has flow {record.flow_name!r} "
                   f"(alive: {names}). Install the flow where a conductor runs and "
                   "reload it (SIGHUP) or restart it.")
    elif next_at is not None:
        summary = (f"It is backing off until {_t(next_at)} after attempt "
                   f"{record.attempts}; then a conductor claims it again.")
    elif record.lost_streak >= jobs.ISOLATE_AFTER_LOST:
        summary = ("It lost its conductor on its last attempts, so it runs alone: it "
                   "waits for a conductor with nothing else running.")
    elif full := _full_keys(facts):
        summary = (f"It is waiting: its {full[0]}; it starts once the key is free "
                   "(jobs sharing a key start by priority, then posting order).")
        reasons += full[1:]
    else:
        summary = _capacity(facts, able)
    return Explanation(record.id, record.state.value, summary, reasons,
                       next_attempt_at=next_at)


def _capacity(facts: Facts, able: Sequence[jobs.ConductorInfo]) -> str:
    slots = sum(int(c.metadata.get("max_simultaneous_jobs") or 1) for c in able)
    busy = sum(facts.running_by_owner.get(c.name, 0) for c in able)
    ahead = facts.ahead
    queue = (f"{ahead} job{'s' if ahead != 1 else ''} ahead of it by priority"
             if ahead else "no job ahead of it")
    if busy >= slots:
        return (f"It is waiting: every slot is busy ({busy} of {slots} on "
                f"{len(able)} conductor{'s' if len(able) != 1 else ''} that can run "
                f"it), with {queue}.")
    return (f"It is waiting to be claimed: {slots - busy} free slot"
            f"{'s' if slots - busy != 1 else ''} on conductors that can run it, with "
            f"{queue}; it should start within seconds.")


def _has_flow(conductor: jobs.ConductorInfo, record: persistence.JobRecord) -> bool:
    flows = conductor.metadata.get("flows")
    if record.document is not None or not isinstance(flows, list):
        # A document is built by any conductor with its commands; a conductor
        # of an earlier release does not list its flows.
        return True
    return record.flow_name in flows
