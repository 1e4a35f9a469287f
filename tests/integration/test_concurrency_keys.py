"""Concurrency keys in the claim, on both databases: at most N running jobs share a
key, waiting jobs go by priority then posting order, and every way a claim
ends frees its keys."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

import jobs
import persistence
from tests.jobrows import insert_job, set_columns

pytestmark = pytest.mark.integration

JobState = persistence.JobState


def claim(life: jobs.JobLifecycle, job: persistence.JobRecord,
          owner: str = "c1") -> jobs.ClaimOutcome:
    assert job.board_job_id is not None
    return life.claim(job.id, job.board_job_id, owner)


def holders(database: persistence.Database, key: str) -> list[str]:
    with database.session() as session:
        return [h.job_id for h in persistence.key_holds(session.connection(), [key])]


def test_one_job_per_key_by_default_and_the_next_starts_when_it_ends(
        database: persistence.Database) -> None:
    life = jobs.JobLifecycle(database)
    first = insert_job(database, keys=("node:4f2a",))
    second = insert_job(database, keys=("node:4f2a", "volume:7"))
    other = insert_job(database, keys=("node:9",))
    running = claim(life, first)
    assert isinstance(running, jobs.Claim)
    waiting = claim(life, second)
    assert isinstance(waiting, jobs.NotYet) and waiting.key_busy
    assert f"key node:4f2a is held by job {first.id}" in waiting.reason
    # Refused whole: no attempt counted, no slot of its other key taken.
    with database.session() as session:
        assert persistence.get_job(session, second.id).attempts == 0  # type: ignore[union-attr]
    assert holders(database, "volume:7") == []
    assert isinstance(claim(life, other), jobs.Claim)  # another key: no wait

    life.finish(running, JobState.SUCCESS)
    assert holders(database, "node:4f2a") == []
    assert isinstance(claim(life, second), jobs.Claim)
    assert holders(database, "node:4f2a") == holders(database, "volume:7") == [second.id]


def test_the_limit_is_per_key_prefix(database: persistence.Database) -> None:
    life = jobs.JobLifecycle(database, key_limits=jobs.KeyLimits({"volume": 2}))
    volumes = [insert_job(database, keys=("volume:42",)) for _ in range(3)]
    outcomes = [claim(life, job) for job in volumes]
    assert [type(o).__name__ for o in outcomes] == ["Claim", "Claim", "NotYet"]
    assert "(limit 2)" in outcomes[2].reason  # type: ignore[union-attr]
    first = outcomes[0]
    assert isinstance(first, jobs.Claim)
    life.release(first)  # handed back: its slot goes too...
    assert holders(database, "volume:42") == [volumes[1].id]
    # ...and, posted first, it is first in line for it.
    assert isinstance(claim(life, volumes[2]), jobs.NotYet)
    assert isinstance(claim(life, volumes[0]), jobs.Claim)


def test_waiting_jobs_take_a_freed_key_by_priority_then_posting_order(
        database: persistence.Database) -> None:
    life = jobs.JobLifecycle(database)
    holder = insert_job(database, keys=("node:1",))
    running = claim(life, holder)
    assert isinstance(running, jobs.Claim)
    start = datetime.now(UTC)
    early = insert_job(database, keys=("node:1",))
    late_high = insert_job(database, keys=("node:1",), priority="HIGH")
    late = insert_job(database, keys=("node:1",))
    for offset, job in enumerate((early, late_high, late)):
        set_columns(database, job.id, created_at=start + timedelta(seconds=offset))
    life.finish(running, JobState.SUCCESS)

    refused = claim(life, early)
    assert isinstance(refused, jobs.NotYet)
    assert f"job {late_high.id} waits for key node:1 and goes first" in refused.reason
    high = claim(life, late_high)
    assert isinstance(high, jobs.Claim)
    life.finish(high, JobState.SUCCESS)
    assert isinstance(claim(life, late), jobs.NotYet)  # posted after ``early``
    assert isinstance(claim(life, early), jobs.Claim)


def test_a_lost_conductor_frees_its_keys_when_its_claim_goes(
        database: persistence.Database) -> None:
    life = jobs.JobLifecycle(database, jobs.Policy(max_attempts=2))
    job = insert_job(database, keys=("node:1",))
    other = insert_job(database, keys=("node:1",))
    lost = claim(life, job, "dead")
    assert isinstance(lost, jobs.Claim)
    # Another conductor finds the record RUNNING under a lock it now holds: the
    # dead conductor's attempt ends, the key with it, and the job (first in
    # line) takes the key again.
    retaken = claim(life, job, "c2")
    assert isinstance(retaken, jobs.Claim) and retaken.record.owner == "c2"
    assert holders(database, "node:1") == [job.id]
    # Lost again at its last attempt: quarantined, and the key is free.
    assert isinstance(claim(life, job, "c3"), jobs.Finished)
    assert holders(database, "node:1") == []
    assert isinstance(claim(life, other), jobs.Claim)


def test_racing_claims_never_exceed_the_limit(database: persistence.Database) -> None:
    many = [insert_job(database, keys=("node:race",)) for _ in range(8)]
    barrier = threading.Barrier(len(many))
    outcomes: list[jobs.ClaimOutcome] = []
    lock = threading.Lock()

    def race(job: persistence.JobRecord, index: int) -> None:
        life = jobs.JobLifecycle(database)
        barrier.wait()
        try:
            outcome = claim(life, job, f"c{index}")
        except persistence.PersistenceError as exc:  # SQLite: a writer kept waiting
            outcome = jobs.NotYet(str(exc))
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=race, args=(job, i)) for i, job in enumerate(many)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    claims = [o for o in outcomes if isinstance(o, jobs.Claim)]
    assert len(outcomes) == len(many)
    assert len(claims) <= 1
    assert len(holders(database, "node:race")) == len(claims)
    with database.session() as session:
        running = [persistence.get_job(session, j.id) for j in many]
    assert sum(r is not None and r.state is JobState.RUNNING for r in running) == len(claims)
