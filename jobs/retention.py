"""Retention: finished jobs past an age are deleted, with everything they left.

A job goes with its attempts, the conductors that passed it over, and its
TaskFlow logbook with the flow and atom details under it. Only jobs in a
terminal state (SUCCESS, REVERTED, FAILED) are ever deleted, and only by
``finished_at``. Deletes go in batches, each its own short transaction, so
neither database holds locks for long, and a purge cut short leaves every
remaining job whole: the next purge picks up where it stopped. Purging twice,
or from several conductors at once, is harmless.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

import persistence

LOG = logging.getLogger(__name__)

_J = persistence.JOBS
_A = persistence.ATTEMPTS
_P = persistence.PASSES


@dataclass(frozen=True)
class RetentionSettings:
    """How long finished jobs are kept, and how conductors purge the others.

    ``max_age``: seconds after its end a finished job is kept (0: for ever).
    ``interval``: seconds between two purges by one conductor.
    """

    max_age: float = 30 * 86400.0
    batch_size: int = 500
    interval: float = 3600.0

    @property
    def enabled(self) -> bool:
        return self.max_age > 0


@dataclass(frozen=True)
class PurgeResult:
    """What a purge deleted, or with ``dry_run`` what it would delete.

    ``tasks`` counts task rows (TaskFlow's atom details) under the jobs'
    logbooks; ``batches`` the transactions it took (or would take).
    """

    cutoff: datetime
    jobs: int
    tasks: int
    batches: int
    dry_run: bool


def purge(database: persistence.Database, older_than: timedelta, *, batch_size: int = 500,
          dry_run: bool = False, now: datetime | None = None,
          should_stop: Callable[[], bool] | None = None) -> PurgeResult:
    """Delete the jobs that finished more than ``older_than`` before ``now``.

    ``should_stop`` is asked between batches: a purge that stops early has
    deleted whole jobs only.
    """
    if older_than < timedelta(0):
        raise ValueError(f"older_than must not be negative, not {older_than}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    cutoff = (now or datetime.now(UTC)) - older_than
    if dry_run:
        with database.session() as session:
            jobs, tasks = persistence.count_purgeable(session, cutoff)
        return PurgeResult(cutoff, jobs, tasks, math.ceil(jobs / batch_size), dry_run=True)
    jobs = tasks = batches = 0
    while should_stop is None or not should_stop():
        found, deleted, atoms = _purge_batch(database, cutoff, batch_size)
        if not deleted:
            break
        jobs, tasks, batches = jobs + deleted, tasks + atoms, batches + 1
        if found < batch_size:
            break
    return PurgeResult(cutoff, jobs, tasks, batches, dry_run=False)


def _purge_batch(database: persistence.Database, cutoff: datetime,
                 batch_size: int) -> tuple[int, int, int]:
    """One transaction: how many jobs it found, deleted, and their task rows."""
    with database.session() as session:
        found = persistence.purgeable_jobs(session, cutoff, batch_size)
        if not found:
            return 0, 0, 0
        # The job rows go first, and only those still finished before the
        # cutoff: what they return is what the children are deleted for.
        stmt = (sa.delete(_J)
                .where(_J.c.id.in_([p.job_id for p in found]),
                       *persistence.finished_before_clause(cutoff))
                .returning(_J.c.id, _J.c.logbook_id))
        deleted = session.execute(stmt).all()
        ids = [job_id for job_id, _book in deleted]
        # Foreign keys cascade to these where they are enforced; deleted
        # explicitly all the same, for a SQLite connection without the pragma.
        if ids:
            session.execute(sa.delete(_A).where(_A.c.job_id.in_(ids)))
            session.execute(sa.delete(_P).where(_P.c.job_id.in_(ids)))
        _flows, atoms = persistence.delete_logbooks(session.connection(),
                                                    [book for _id, book in deleted])
    return len(found), len(ids), atoms


class Purger:
    """A conductor's periodic purge, on a thread of its own, when due.

    Never raises and never blocks the caller: it is housekeeping. The first
    purge comes at a random point of the first interval, so conductors started
    together do not purge together; if they do, each batch takes jobs the
    others have not locked (PostgreSQL) or waits its turn (SQLite).
    """

    def __init__(self, database: persistence.Database, settings: RetentionSettings) -> None:
        self.settings = settings
        self._db = database
        self._due: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def purge_if_due(self) -> bool:
        """Start a purge if its turn has come and none runs; return whether one started."""
        if not self.settings.enabled or self._stop.is_set():
            return False
        now = time.monotonic()
        if self._due is None:
            self._due = now + random.uniform(0.0, self.settings.interval)
        if now < self._due or (self._thread is not None and self._thread.is_alive()):
            return False
        self._due = now + self.settings.interval
        self._thread = threading.Thread(target=self._purge_quietly, daemon=True,
                                        name="retention")
        self._thread.start()
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop after the batch in progress, waiting up to ``timeout`` seconds for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _purge_quietly(self) -> None:
        max_age = timedelta(seconds=self.settings.max_age)
        try:
            result = purge(self._db, max_age, batch_size=self.settings.batch_size,
                           should_stop=self._stop.is_set)
        except persistence.PersistenceError as exc:
            LOG.warning("Deleting finished jobs older than %s failed; trying again in "
                        "%gs: %s", max_age, self.settings.interval, exc)
            return
        except Exception:
            LOG.exception("Deleting finished jobs older than %s failed unexpectedly", max_age)
            return
        if result.jobs:
            LOG.info("Deleted %d job(s) that finished before %s, with %d task row(s), "
                     "in %d batch(es)", result.jobs, result.cutoff.isoformat(),
                     result.tasks, result.batches)
