"""The conductor: claims jobs from the jobboard and runs them, fenced, with SQL persistence.

Where stock TaskFlow's conductor falls short, this one:

* learns of new and released jobs from one ZooKeeper watch instead of polling
  every job, so a released claim is taken over as soon as its lock goes;
* claims in two steps, the lock node then the record, whose UPDATE counts the
  attempt before anything runs and returns the fencing token every later
  write carries (``jobs.lifecycle``);
* fences itself: while its session is suspended it starts no task, once the
  session is lost it halts its engines at the next boundary and lets their
  jobs go, and with a new session it registers again and claims afresh;
* builds only flows from the registry, or from the document a job's record
  carries, and leaves a job whose flow or commands it lacks to a conductor
  that has them (recorded on the job), rather than failing it;
* quarantines a job whose attempts keep killing their conductor, and runs a
  job that lost its conductor twice in a row alone, so it cannot take other
  jobs down with it;
* never trashes a job it could not finish: storage trouble hands it back
  with backoff, and a board operation ZooKeeper refused is retried once the
  session is back;
* hands back RUNNING records whose lock nobody holds (reconciliation).
"""

from __future__ import annotations

import importlib.metadata
import logging
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jobs
import persistence
from orchestrator.errors import OrchestratorError
from orchestrator.jobrun import BoardAction, CannotRun, JobContext, JobRunner
from orchestrator.metrics import ConductorMetrics
from orchestrator.registry import FlowRegistry
from orchestrator.schedules.scheduler import SchedulerSettings, start_for_conductor
from orchestrator.stall import StallDetector

LOG = logging.getLogger(__name__)

#: Seconds between two reloads of the flows that a job naming a flow this
#: conductor lacks may trigger (a flow installed or added since it started).
AUTO_RELOAD_INTERVAL = 10.0

#: Seconds a waiting job's record must stay unchanged, its posting missing,
#: before conductors post it again: far longer than any post takes.
UNPOSTED_GRACE = 60.0

# What is done to a posting on the board.
_CONSUME, _ABANDON, _TRASH = "consume", "release", "trash"


@dataclass(frozen=True)
class ConductorSettings:
    name: str
    max_simultaneous_jobs: int = 4
    engine: str = "serial"
    engine_workers: int = 4
    poll_interval: float = 0.1
    max_attempts: int = 5
    retry_delay: float = 1.0
    cancel_check_interval: float = 0.5
    reconcile_interval: float = 10.0
    retention: jobs.RetentionSettings = jobs.RetentionSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    key_limits: jobs.KeyLimits = jobs.KeyLimits()


@dataclass
class _Running:
    job: jobs.BoardJob
    context: JobContext
    future: futures.Future[BoardAction]


class Conductor:
    """Claims and runs jobs until ``stop()``; ``run()`` returns once they are handed back."""

    def __init__(self, settings: ConductorSettings, board: jobs.Board,
                 database: persistence.Database, registry: FlowRegistry,
                 can_run_document: Callable[[dict[str, Any]], str | None] | None = None,
                 load_registry: Callable[[], FlowRegistry] | None = None
                 ) -> None:
        self.settings = settings
        self._board = board
        self._db = database
        self._registry = registry
        self._load_registry = load_registry
        self._reload_requested = threading.Event()
        self._reloaded_at = time.monotonic()
        self._passed: set[str] = set()  # postings passed over (said once in the log)
        self._can_run_document = can_run_document or _document_problem
        self._lifecycle = jobs.JobLifecycle(database, jobs.Policy(
            max_attempts=settings.max_attempts, retry_delay=settings.retry_delay),
            key_limits=settings.key_limits)
        engine_options: dict[str, Any] = {}
        if settings.engine == "parallel":
            engine_options = {"executor": "threaded", "max_workers": settings.engine_workers}
        self.metrics = ConductorMetrics(board)
        self._runner = JobRunner(database, self._lifecycle, registry,
                                 engine=settings.engine, engine_options=engine_options,
                                 cancel_check_interval=settings.cancel_check_interval,
                                 metrics=self.metrics)
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._lost = threading.Event()  # the session whose claims we hold ended
        self._lock = threading.Lock()
        self._running: dict[str, _Running] = {}
        self._pending: list[tuple[jobs.BoardJob, str]] = []
        # Posting path -> monotonic time before which it is not looked at again
        # (None: not while this process lives).
        self._skip: dict[str, float | None] = {}
        self._needs_idle: set[str] = set()
        self._db_retry_at = 0.0
        self._db_down = False
        # A stall a quarter of the session long may have cost the session.
        self._stall = StallDetector(min(0.5, board.settings.session_timeout / 4))
        self._next_reconcile = 0.0
        self._purger = jobs.Purger(database, settings.retention)
        if board.connected:
            self._connected.set()
        board.add_state_listener(self._on_session)

    @property
    def name(self) -> str:
        return self.settings.name

    def stop(self) -> None:
        """Stop claiming; running flows suspend at their next task boundary.

        Safe in a signal handler: it takes no lock the loop may hold.
        """
        self._stopping.set()
        self._board.notify()

    def reload(self) -> None:
        """Load the flows and extensions again, at the loop's next turn.

        Safe in a signal handler (SIGHUP), like ``stop``. Jobs left to others
        for lack of a flow are looked at again; running jobs keep the flow
        they were built with.
        """
        self._reload_requested.set()
        self._board.notify()

    def _reload_now(self) -> bool:
        """Swap in a freshly loaded registry; False if there is none to load."""
        self._reload_requested.clear()
        self._reloaded_at = time.monotonic()
        if self._load_registry is None:
            return False
        try:
            registry = self._load_registry()
        except Exception:  # noqa: BLE001 - a bad new flow must not stop the conductor
            LOG.exception("Reloading the flows failed; keeping the flows loaded before")
            return False
        added = sorted(set(registry.names()) - set(self._registry.names()))
        removed = sorted(set(self._registry.names()) - set(registry.names()))
        self._registry = registry
        self._runner.registry = registry
        # Jobs passed over for good may be runnable now.
        for path in [p for p, until in self._skip.items() if until is None]:
            del self._skip[path]
        self._board.update_conductor({"flows": registry.names()})
        LOG.warning("Flows reloaded: %d flows%s%s", len(registry.names()),
                    f"; added {', '.join(added)}" if added else "",
                    f"; removed {', '.join(removed)}" if removed else "")
        return True

    # session ---------------------------------------------------------------

    def _on_session(self, state: str) -> None:
        if state == jobs.CONNECTED:
            self._connected.set()
            if self._lost.is_set():
                # A new session: claims are made afresh from here on.
                self._lost = threading.Event()
        else:
            self._connected.clear()
        if state == jobs.LOST:
            with self._lock:
                running = list(self._running.values())
                lost = self._lost
            lost.set()
            for item in running:
                item.context.claim.fence.abort.set()
            if running:
                LOG.warning("ZooKeeper session lost: %d running job(s) stop at their "
                            "next task boundary and are handed back", len(running))

    # the loop --------------------------------------------------------------

    def run(self) -> None:
        entity = self._board.register_conductor(self.name, {
            "name": self.name,
            "engine": self.settings.engine,
            "max_simultaneous_jobs": self.settings.max_simultaneous_jobs,
            "version": _version(),
            # ``jobs explain`` tells a job no live conductor can run from one
            # that waits for a slot.
            "flows": self._registry.names(),
        })
        LOG.info("Conductor registered as %s", entity)
        # Contends for the schedules' leadership; only the leader fires them.
        scheduler = start_for_conductor(self.settings.scheduler, self.name, self._board,
                                        self._db, lambda: self._registry)
        workers = futures.ThreadPoolExecutor(self.settings.max_simultaneous_jobs,
                                             thread_name_prefix=f"job-{self.name}")
        self._stall.start()
        seen = -1
        try:
            while not self._stopping.is_set():
                self.metrics.beat()
                self._collect_finished()
                if self._reload_requested.is_set():
                    self._reload_now()
                if self._connected.is_set():
                    self._retry_pending()
                    self._reconcile_now_and_then()
                    self._dispatch(workers)
                seen = self._board.wait_for_change(seen, self.settings.poll_interval)
        finally:
            self._stopping.set()
            if scheduler is not None:
                scheduler.stop()
            with self._lock:
                for running in self._running.values():
                    # A write waiting through a database outage gives up: the
                    # job is handed back rather than holding the stop up.
                    running.context.claim.fence.abort.set()
            workers.shutdown(wait=True)
            self._purger.stop()
            self._stall.stop()
            self._collect_finished()
            if self._connected.is_set():
                self._retry_pending()

    def _dispatch(self, workers: futures.ThreadPoolExecutor) -> None:
        now = time.monotonic()
        if now < self._db_retry_at:
            return
        with self._lock:
            busy = len(self._running)
            isolated = any(r.context.claim.isolated for r in self._running.values())
        free = 0 if isolated else self.settings.max_simultaneous_jobs - busy
        if free <= 0:
            return
        waiting = self._board.unclaimed()
        idle_wanted = any(job.path in self._needs_idle for job in waiting)
        for job in waiting:
            if free <= 0 or self._stopping.is_set():
                return
            if not self._due(job, now):
                continue
            # A job that must run alone waits for this conductor to drain;
            # meanwhile no other job starts here.
            if busy and (idle_wanted or job.path in self._needs_idle):
                continue
            started = self._try_job(job, busy, workers)
            if started is None:
                if now < self._db_retry_at:
                    return
                continue
            busy += 1
            free = 0 if started.isolated else free - 1

    def _due(self, job: jobs.BoardJob, now: float) -> bool:
        if job.path not in self._skip:
            return True
        until = self._skip[job.path]
        if until is not None and until <= now:
            del self._skip[job.path]
            return True
        return False

    def _try_job(self, job: jobs.BoardJob, busy: int,
                 workers: futures.ThreadPoolExecutor) -> jobs.Claim | None:
        try:
            spec = jobs.JobSpec.from_details(job.details)
        except jobs.InvalidJobDetails as exc:
            self._trash(job, f"job {job.uuid}: {exc}")
            return None
        problem = self._cannot_run(spec, job)
        if problem is not None:
            self._pass_over(job, spec, problem)
            return None
        try:
            self._board.claim(job)
        except jobs.Unclaimable:
            return None
        except jobs.BoardUnavailable as exc:
            LOG.warning("Cannot claim job %s: %s", spec.job_id, exc)
            # ZooKeeper may have created the lock and lost only its answer:
            # left alone, this live session would hold the job for ever.
            self._board_op(job, _ABANDON)
            return None
        asked_at = datetime.now(UTC)
        try:
            outcome = self._lifecycle.claim(spec.job_id, job.uuid, self.name, busy=busy)
        except persistence.PersistenceError as exc:
            # Nothing was counted: the database did not answer. Let others try,
            # and look at the board again once the database may be back.
            log = LOG.debug if self._db_down else LOG.warning
            log("Cannot claim job %s in the database (%s); releasing it and claiming "
                "nothing until the database answers", spec.job_id, exc)
            self._db_down = True
            self._db_retry_at = time.monotonic() + max(1.0, self.settings.retry_delay)
            self._board_op(job, _ABANDON)
            return None
        if self._db_down:
            LOG.warning("The database answers again; claiming jobs")
            self._db_down = False
        self.metrics.claimed(spec.flow_name, outcome, asked_at)
        if isinstance(outcome, jobs.Claim):
            self._needs_idle.discard(job.path)
            self._start(job, spec, outcome, workers)
            return outcome
        if isinstance(outcome, jobs.Refused):
            self._trash(job, f"job {spec.job_id}: {outcome.reason}", claimed=True)
        elif isinstance(outcome, jobs.Finished):
            LOG.info("Job %s already finished %s; removing it from the board",
                     spec.job_id, outcome.record.state.value)
            self._board_op(job, _CONSUME)
        else:
            self._board_op(job, _ABANDON)
            self._defer(job, outcome)
        return None

    def _defer(self, job: jobs.BoardJob, outcome: jobs.NotYet) -> None:
        if outcome.needs_idle:
            self._needs_idle.add(job.path)
            LOG.info("Job %s waits for this conductor to be idle: %s", job.uuid,
                     outcome.reason)
            return
        delay = 0.5
        if outcome.until is not None:
            delay = max((outcome.until - datetime.now(UTC)).total_seconds(), 0.0)
        self._skip[job.path] = time.monotonic() + delay

    def _cannot_run(self, spec: jobs.JobSpec, job: jobs.BoardJob) -> str | None:
        """Why this conductor cannot run the job (it lacks the flow...), or None."""
        if spec.flow_name in self._registry:
            return None
        if (self._load_registry is not None
                and time.monotonic() - self._reloaded_at >= AUTO_RELOAD_INTERVAL):
            # Installed or added since the last load, perhaps: look before
            # leaving the job to others.
            LOG.info("Job %s names flow %r, which is not loaded; reloading the flows",
                     spec.job_id, spec.flow_name)
            if self._reload_now() and spec.flow_name in self._registry:
                return None
        try:
            with self._db.session() as session:
                record = persistence.get_job(session, spec.job_id)
        except persistence.PersistenceError:
            return None  # the claim finds out (and copes with) the database
        if record is None or record.board_job_id != job.uuid:
            return None  # not a job of ours: the claim refuses and trashes it
        if record.document is not None:
            return self._can_run_document(record.document)
        return (f"flow {spec.flow_name!r} is not registered on conductor {self.name}; "
                "it waits for a conductor that has it (a conductor loads new flows "
                "on SIGHUP, or by itself when a job needs one)")

    def _pass_over(self, job: jobs.BoardJob, spec: jobs.JobSpec, reason: str) -> None:
        log = LOG.debug if job.path in self._passed else LOG.warning
        self._passed.add(job.path)
        log("Leaving job %s to other conductors: %s", spec.job_id, reason)
        try:
            self._lifecycle.record_pass(spec.job_id, job.uuid, self.name, reason)
        except persistence.PersistenceError as exc:
            LOG.warning("Cannot record that job %s was passed over: %s", spec.job_id, exc)
            self._skip[job.path] = time.monotonic() + max(1.0, self.settings.retry_delay)
            return
        self._skip[job.path] = self._look_again_at()

    def _look_again_at(self) -> float | None:
        """When to look again at a job this conductor cannot run: once flows may
        have been installed, if it can load them (else only after a reload)."""
        if self._load_registry is None:
            return None
        return time.monotonic() + AUTO_RELOAD_INTERVAL

    def _trash(self, job: jobs.BoardJob, reason: str, *, claimed: bool = False) -> None:
        LOG.warning("Refusing %s: %s; moving it to the jobboard's trash", job.path, reason)
        if not claimed:
            try:
                self._board.claim(job)
            except (jobs.Unclaimable, jobs.BoardUnavailable):
                return
        self._board_op(job, _TRASH)

    # running ---------------------------------------------------------------

    def _start(self, job: jobs.BoardJob, spec: jobs.JobSpec, claim: jobs.Claim,
               workers: futures.ThreadPoolExecutor) -> None:
        context = JobContext(claim=claim, spec=spec, lost=self._lost,
                             connected=self._connected, stopping=self._stopping,
                             stall=self._stall, holds=lambda: self._board.holds(job))
        if self._stopping.is_set():
            claim.fence.abort.set()
        future = workers.submit(self._run_job, context)
        future.add_done_callback(self.metrics.attempt_timer(spec.flow_name))
        with self._lock:
            self._running[job.path] = _Running(job, context, future)
        # Wake the loop: the slot is free and the board needs telling.
        future.add_done_callback(lambda _f: self._board.notify())

    def _run_job(self, context: JobContext) -> BoardAction:
        try:
            return self._runner.run(context)
        except CannotRun as exc:
            self._pass_over_running(context, str(exc))
            return BoardAction.ABANDON
        except Exception:
            LOG.exception("Job %s: the run failed unexpectedly; handing it back",
                          context.spec.job_id)
            return BoardAction.ABANDON

    def _pass_over_running(self, context: JobContext, reason: str) -> None:
        spec = context.spec
        posting = context.claim.record.board_job_id or ""
        try:
            self._lifecycle.record_pass(spec.job_id, posting, self.name, reason)
        except persistence.PersistenceError:
            LOG.warning("Cannot record that job %s was passed over", spec.job_id)
        LOG.warning("Leaving job %s to other conductors: %s", spec.job_id, reason)
        with self._lock:
            for path, running in self._running.items():
                if running.context is context:
                    self._skip[path] = self._look_again_at()

    def _collect_finished(self) -> None:
        with self._lock:
            done = [(path, r) for path, r in self._running.items() if r.future.done()]
            for path, _r in done:
                del self._running[path]
        for _path, running in done:
            action = running.future.result()
            if action is BoardAction.CONSUME:
                self._board_op(running.job, _CONSUME)
            else:
                # Handed back, or taken over: a lock this session still holds
                # only keeps others off the posting (the release checks whose
                # lock it is, and a lock a lost session held is gone anyway).
                self._board_op(running.job, _ABANDON)

    # board operations, retried while ZooKeeper is away -----------------------

    def _board_op(self, job: jobs.BoardJob, op: str) -> None:
        try:
            self._apply(job, op)
        except jobs.BoardUnavailable as exc:
            LOG.warning("Cannot %s job %s on the board now (%s); retrying once the "
                        "session is back", op, job.uuid, exc)
            self._pending.append((job, op))
        except jobs.NotOwner:
            LOG.info("Job %s: the claim is no longer this conductor's; leaving the "
                     "board as it is", job.uuid)

    def _apply(self, job: jobs.BoardJob, op: str) -> None:
        if op == _CONSUME:
            self._board.consume(job)
        elif op == _ABANDON:
            self._board.abandon(job)
        else:
            self._board.trash(job)

    def _retry_pending(self) -> None:
        pending, self._pending = self._pending, []
        for job, op in pending:
            try:
                self._apply(job, op)
            except jobs.BoardUnavailable:
                self._pending.append((job, op))
            except jobs.NotOwner as exc:
                LOG.info("Job %s: not retrying to %s it: %s", job.uuid, op, exc)
            else:
                LOG.info("Job %s: %s done now that ZooKeeper is back", job.uuid, op)

    # reconciliation ----------------------------------------------------------

    def _reconcile_now_and_then(self) -> None:
        now = time.monotonic()
        if now < self._next_reconcile:
            return
        self._next_reconcile = now + self.settings.reconcile_interval
        # Keeps the trash's listing bounded; on a thread of its own, when due.
        self._board.prune_trash_if_due()
        # Finished jobs past their retention go the same way.
        self._purger.purge_if_due()
        # What this conductor remembers of postings that left the board goes too.
        on_board = {job.path for job in self._board.jobs()}
        for path in [p for p in self._skip if p not in on_board]:
            del self._skip[path]
        self._passed &= on_board
        self._needs_idle &= on_board
        grace = max(5.0, 3 * self._board.settings.session_timeout)
        try:
            handed_back = self._lifecycle.reconcile(self._held, grace)
        except persistence.PersistenceError as exc:
            LOG.debug("Reconciliation skipped: %s", exc)
            return
        for job_id in handed_back:
            LOG.warning("Job %s was RUNNING with no conductor holding it; handed back",
                        job_id)
        self._post_again()

    def _post_again(self) -> None:
        """Post again the waiting jobs whose posting is not on the board.

        A poster that died between writing a job and posting it leaves one;
        without its posting no conductor would ever see the job.
        """
        if not self._board.complete:
            return
        try:
            candidates = self._lifecycle.unposted_candidates(UNPOSTED_GRACE)
            for job_id, posting_id in candidates:
                if self._board.find(posting_id) is not None:
                    continue
                record = self._lifecycle.take_repost(job_id, UNPOSTED_GRACE)
                if record is None:
                    continue
                spec = jobs.JobSpec(job_id=record.id, flow_name=record.flow_name,
                                    flow_detail_id=record.flow_detail_id, store=record.store)
                self._board.post(uuid=posting_id, name=record.flow_name,
                                 details=spec.to_details(), book_uuid=record.logbook_id,
                                 book_name=f"job-{record.id}", priority=record.priority)
                LOG.warning("Job %s had no posting on the board (its poster died before "
                            "posting it?); posted it again", record.id)
        except (persistence.PersistenceError, jobs.BoardUnavailable) as exc:
            LOG.debug("Looking for unposted jobs skipped: %s", exc)

    def _held(self, record: persistence.JobRecord) -> bool | None:
        if record.board_job_id is None:
            return None
        job = self._board.find(record.board_job_id)
        if job is None:
            return None
        return self._board.is_claimed(job)


def _document_problem(document: dict[str, Any]) -> str | None:
    """Why this conductor cannot build a job's flow document, or None."""
    from orchestrator import declarative

    try:
        declarative.flow_from_data(document, source="the job's document")
    except OrchestratorError as exc:
        return str(exc)
    return None


def _version() -> str:
    try:
        return importlib.metadata.version("orchestrator")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


