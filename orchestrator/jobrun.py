"""Running one claimed job: its flow on a fenced TaskFlow engine, and what to record.

The conductor claims; this module runs what it claimed and decides, from how
the run ended, what the job record says and what happens to the posting on
the board (``BoardAction``). Every write it makes, TaskFlow's included, is
fenced by the claim: once another conductor has taken the job over, nothing
of this run reaches the database, and the job is neither recorded nor
consumed here.
"""

from __future__ import annotations

import enum
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import taskflow.engines
from taskflow import exceptions as tf_exc
from taskflow import states
from taskflow import storage as tf_storage

import jobs
import persistence
from orchestrator import engines, revert_resume, shapes
from orchestrator.errors import OrchestratorError
from orchestrator.metrics import ConductorMetrics
from orchestrator.registry import FlowRegistry
from orchestrator.stall import StallDetector

LOG = logging.getLogger(__name__)

_FINISHED_FLOW_STATES = {
    states.SUCCESS: persistence.JobState.SUCCESS,
    states.REVERTED: persistence.JobState.REVERTED,
    states.FAILURE: persistence.JobState.FAILED,
}

# Errors that end a run through no fault of the flow: the flow is not marked
# FAILED, and the attempt is handed back (or, for a lost claim, dropped).
_INFRASTRUCTURE = (engines.EngineHalted, tf_exc.StorageFailure,
                   persistence.PersistenceError)


class BoardAction(enum.Enum):
    """What becomes of the posting once the run is over."""

    CONSUME = "consume"   # the job finished: remove it from the board
    ABANDON = "abandon"   # handed back: release the lock for another attempt
    DROP = "drop"         # the claim was lost: leave the board to the new owner


class CannotRun(OrchestratorError):
    """This conductor lacks something the job's flow needs."""


@dataclass
class JobContext:
    """What a running job shares with its conductor."""

    claim: jobs.Claim
    spec: jobs.JobSpec
    #: Set by the conductor when its session is lost: the claim is gone.
    lost: threading.Event
    #: Set while the ZooKeeper session is connected.
    connected: threading.Event
    #: Set when the conductor is stopping.
    stopping: threading.Event
    #: Notices that the process stood still (then the claim is checked).
    stall: StallDetector
    #: Whether this conductor's session holds the job's lock, asked of ZooKeeper
    #: (raises ``jobs.BoardUnavailable`` when ZooKeeper cannot say).
    holds: Callable[[], bool]


class JobRunner:
    """Runs claimed jobs; one instance per conductor, used from its worker threads."""

    def __init__(self, database: persistence.Database, lifecycle: jobs.JobLifecycle,
                 registry: FlowRegistry, *, engine: str = "serial",
                 engine_options: dict[str, Any] | None = None,
                 cancel_check_interval: float = 0.5,
                 build_document: Callable[[dict[str, Any], str], tuple[str, Any]]
                 | None = None, metrics: ConductorMetrics | None = None) -> None:
        self._db = database
        self._lifecycle = lifecycle
        #: Replaced when the conductor reloads its flows.
        self.registry = registry
        self._engine = engine
        self._engine_options = dict(engine_options or {})
        self._cancel_interval = cancel_check_interval
        self._build_document = build_document or _build_document
        self._metrics = metrics or ConductorMetrics()

    def build_flow(self, spec: jobs.JobSpec, record: persistence.JobRecord) -> Any:
        """The job's flow: registered by name, or built from its record's document."""
        try:
            if record.document is None:
                return self.registry.build(spec.flow_name)
            name, flow = self._build_document(record.document,
                                              f"job {spec.job_id}'s document")
        except OrchestratorError as exc:
            raise CannotRun(str(exc)) from exc
        if name != spec.flow_name:
            raise CannotRun(f"job {spec.job_id} names flow {spec.flow_name!r} but its "
                            f"document is {name!r}")
        return flow

    def _flow_for(self, spec: jobs.JobSpec, record: persistence.JobRecord,
                  flow_detail: Any, backend: Any) -> Any:
        """The flow to run the job with: the one registered now, unless the job
        started with another shape of it (``orchestrator.shapes``). Then its
        declared policy decides: an earlier version runs or reverts it, or
        its atoms are renamed (saved before the run), or ``CannotRun``."""
        flow = self.build_flow(spec, record)
        posted = shapes.recorded(flow_detail.meta)
        if posted is None or record.document is not None:
            return flow  # posted by an earlier release, or its document travels with it
        if not revert_resume.started(flow_detail):
            now = self.registry.shape_record(spec.flow_name)
            if posted["fingerprint"] != now["fingerprint"]:
                # Nothing ran: it starts with the shape of now, which it records
                # (stored with the flow's first write, before any step runs).
                flow_detail.meta = {**(flow_detail.meta or {}), shapes.SHAPE_KEY: now}
            return flow
        change = shapes.ShapeChange.of(self.registry.factory(spec.flow_name))
        decision = shapes.decide(spec.flow_name, posted, flow, change)
        if decision.action == "refuse":
            raise CannotRun(decision.reason)
        meta = dict(flow_detail.meta or {})
        if decision.action == "rename":
            names = {}
            for atom in list(flow_detail):
                if atom.name in decision.rename:
                    names[atom.uuid] = decision.rename[atom.name]
                    # Same uuid, new name: the detail replaces the old one.
                    flow_detail.add(type(atom).from_dict({**atom.to_dict(),
                                                          "name": names[atom.uuid]}))
            backend.get_connection().rename_atoms(names)
            meta[shapes.SHAPE_KEY] = shapes.record_for(flow)
            LOG.info("Job %s: its atoms renamed for the new shape of %s (%s)",
                     spec.job_id, spec.flow_name, decision.rename)
        elif decision.action == "revert":
            marked = revert_resume.mark_to_revert(flow_detail)
            meta[shapes.REVERTED_NOTE] = (f"reverted with the version of flow "
                                          f"{spec.flow_name!r} it was posted with "
                                          "(its shape changed since)")
            LOG.info("Job %s: reverting %s with the flow's earlier version",
                     spec.job_id, ", ".join(marked))
        else:
            if decision.flow is not flow:
                LOG.info("Job %s: resumed with the earlier version of %s it was "
                         "posted with", spec.job_id, spec.flow_name)
            return decision.flow
        flow_detail.meta = meta
        backend.get_connection().update_flow_details(flow_detail)
        return decision.flow

    def run(self, job: JobContext) -> BoardAction:
        """Run the job to its end, a suspension or a halt; record what happened."""
        claim, spec = job.claim, job.spec
        try:
            try:
                return self._run(job)
            except (CannotRun, persistence.PersistenceError):
                raise
            except Exception as exc:  # noqa: BLE001 - a bug here must not lose the job
                LOG.exception("Job %s: attempt %d failed unexpectedly", spec.job_id,
                              claim.record.attempts)
                return self._failed_attempt(claim, _describe(exc) or "unexpected error",
                                            persistence.AttemptOutcome.ERROR)
        except persistence.ClaimLost:
            self._metrics.fenced_write_refused(spec.flow_name)
            LOG.warning("Job %s: taken over by another conductor; this run stops "
                        "and records nothing", spec.job_id)
            return BoardAction.DROP
        except persistence.PersistenceError as exc:
            # The record could not be written (the database is unreachable):
            # the lock goes, and the next claimer finds the attempt unreported.
            LOG.warning("Job %s: could not record the end of attempt %d (%s); "
                        "handing it back", spec.job_id, claim.record.attempts, exc)
            return BoardAction.ABANDON

    def _run(self, job: JobContext) -> BoardAction:
        claim, spec = job.claim, job.spec
        backend = self._db.taskflow_backend(fence=claim.fence)
        assert isinstance(backend, persistence.FencedBackend)
        ended: list[persistence.JobRecord] = []
        cancel = _CancelCheck(self._db, spec.job_id, self._cancel_interval,
                              claim.record.cancel_requested_at is not None)

        def end_job_with_flow(connection: Any, flow_detail: Any) -> None:
            state = _FINISHED_FLOW_STATES[flow_detail.state]
            # A FAILURE outside any task is written while TaskFlow handles the
            # exception that caused it: that exception is the reason.
            error = None if state is persistence.JobState.SUCCESS else (
                _failure_from_detail(flow_detail) or _describe(sys.exc_info()[1])
                or f"flow ended {flow_detail.state}")
            error, outcome = _cancel_outcome(cancel, state, error)
            undone_by = (revert_resume.undo_requested_by(flow_detail)
                         if state is persistence.JobState.REVERTED else None)
            if undone_by is not None:
                error = f"undone at the request of {undone_by}"
            elif state is persistence.JobState.REVERTED and \
                    shapes.REVERTED_NOTE in (flow_detail.meta or {}):
                error = str(flow_detail.meta[shapes.REVERTED_NOTE])
            ended[:] = [self._lifecycle.finish_within(connection, claim, state, error,
                                                      outcome)]

        backend.get_connection().on_flow_end = end_job_with_flow
        try:
            flow_detail = backend.get_connection().get_flow_details(spec.flow_detail_id)
        except (tf_exc.StorageFailure, tf_exc.NotFound) as exc:
            return self._hand_back(claim, f"cannot load the flow detail: {exc}")
        _repair_injection(flow_detail)
        recorded = jobs.flow_name_from_meta(flow_detail.meta)
        if recorded != spec.flow_name:
            self._lifecycle.finish(claim, persistence.JobState.FAILED,
                                   f"the job names flow {spec.flow_name!r} but its flow "
                                   f"detail records {recorded!r}")
            return BoardAction.CONSUME
        resumed = revert_resume.prepare(flow_detail)
        if resumed:
            # An operator resumed the failed revert (Orchestrator.resume_revert)
            # or asked to undo the run (Orchestrator.undo): stored as a revert
            # cut short, the flow reverts what is left.
            try:
                backend.get_connection().update_flow_details(flow_detail)
            except tf_exc.StorageFailure as exc:
                return self._hand_back(claim, f"cannot revert as asked: {exc}")
            LOG.info("Job %s: reverting as asked, from %s", spec.job_id,
                     ", ".join(resumed))
        if flow_detail.state in _FINISHED_FLOW_STATES:
            # Its last conductor died after the flow ended but before recording
            # it; TaskFlow would reset a REVERTED flow and run it all again.
            LOG.info("Job %s: its flow already ended %s; recording it", spec.job_id,
                     flow_detail.state)
            self._lifecycle.finish(claim, _FINISHED_FLOW_STATES[flow_detail.state],
                                   _failure_from_detail(flow_detail))
            return BoardAction.CONSUME
        try:
            flow = self._flow_for(spec, claim.record, flow_detail, backend)
        except CannotRun as exc:
            self._lifecycle.release(claim, undo_attempt=True)
            raise CannotRun(str(exc)) from exc
        except tf_exc.StorageFailure as exc:
            return self._hand_back(claim, f"cannot adapt the job to its flow: {exc}")
        guard = _Guard(job, cancel)
        engine = taskflow.engines.load(
            flow, store=dict(spec.store), flow_detail=flow_detail, backend=backend,
            engine=self._engine, namespace=engines.NAMESPACE,
            **{**self._engine_options, engines.CANCEL_CHECK: guard,
               engines.INFRASTRUCTURE: _INFRASTRUCTURE},
        )
        LOG.info("Running job %s (%s), attempt %d", spec.job_id, spec.flow_name,
                 claim.record.attempts)
        self._metrics.run_started(engine, spec.flow_name)
        error: BaseException | None = None
        try:
            # Times of every state change go with the state's own write
            # (LeanStorage), where EventTimeListener would add a write each.
            suspended = False
            connection = backend.get_connection()
            connection.group_writes = True
            for state in engine.run_iter():
                if state == states.WAITING:
                    # Atoms may run on while the engine waits: what finished
                    # before them must not wait for the next atom to start.
                    connection.flush()
                if not suspended and job.stopping.is_set():
                    LOG.info("Job %s: conductor stopping, suspending its flow",
                             spec.job_id)
                    engine.suspend()
                    suspended = True
            # A run stops with a write that commits what it deferred; this is
            # for a run that stopped some other way.
            connection.flush()
        except Exception as exc:  # noqa: BLE001 - every ending is classified below
            error = exc
            # Never stored by a run that failed: a refused claim or a database
            # given up on; the next attempt starts from what is stored.
            backend.get_connection().discard()
        return self._outcome(job, engine, error, ended, cancel)

    def _outcome(self, job: JobContext, engine: Any, error: BaseException | None,
                 ended: list[persistence.JobRecord], cancel: _CancelCheck) -> BoardAction:
        claim, spec = job.claim, job.spec
        if engines.is_infrastructure_error(error, _INFRASTRUCTURE):
            return self._after_halt(job, error)
        flow_state = engine.storage.get_flow_state()
        if ended and flow_state in _FINISHED_FLOW_STATES:
            # Recorded in the transaction that wrote the flow's end.
            LOG.info("Job %s finished %s", spec.job_id, ended[-1].state.value)
            return BoardAction.CONSUME
        if flow_state in _FINISHED_FLOW_STATES:
            state = _FINISHED_FLOW_STATES[flow_state]
            message = None if state is persistence.JobState.SUCCESS else (
                _failure_summary(engine) or _describe(error))
            message, outcome = _cancel_outcome(cancel, state, message)
            self._lifecycle.finish(claim, state, message, outcome)
            LOG.info("Job %s finished %s", spec.job_id, state.value)
            return BoardAction.CONSUME
        if flow_state == states.SUSPENDED and error is None:
            self._lifecycle.release(claim, persistence.JobState.SUSPENDED)
            LOG.info("Job %s suspended; handing it back", spec.job_id)
            return BoardAction.ABANDON
        # The run raised something that is neither a task failure nor
        # trouble with storage (a flow that does not validate...): another
        # attempt would meet it again.
        message = _failure_summary(engine) or _describe(error) or (
            f"flow ended in state {flow_state}")
        self._lifecycle.finish(claim, persistence.JobState.FAILED, message)
        LOG.warning("Job %s failed: %s", spec.job_id, message)
        return BoardAction.CONSUME

    def _after_halt(self, job: JobContext, error: BaseException | None) -> BoardAction:
        claim = job.claim
        if _caused_by(error, persistence.ClaimLost):
            raise persistence.ClaimLost(claim.job_id, claim.epoch)
        if job.lost.is_set():
            # Our session ended: the lock is gone. Say so in the record if the
            # claim is still current; the next conductor resumes the job.
            try:
                self._lifecycle.release(claim, error="the conductor lost its "
                                        "ZooKeeper session; handed back",
                                        outcome=persistence.AttemptOutcome.CONDUCTOR_LOST)
            except persistence.PersistenceError:
                pass
            return BoardAction.DROP
        if job.stopping.is_set() or _caused_by(error, engines.EngineHalted):
            self._lifecycle.release(claim, persistence.JobState.SUSPENDED)
            return BoardAction.ABANDON
        return self._hand_back(claim, _describe(error) or "storage error")

    def _hand_back(self, claim: jobs.Claim, error: str) -> BoardAction:
        """Count a failed attempt: hand the job back with backoff, or fail it at last."""
        return self._failed_attempt(claim, f"storage unavailable: {error}")

    def _failed_attempt(self, claim: jobs.Claim, error: str,
                        outcome: persistence.AttemptOutcome
                        = persistence.AttemptOutcome.STORAGE_ERROR) -> BoardAction:
        record = self._lifecycle.retry_later(claim, error, outcome)
        if record.is_terminal:
            LOG.error("Job %s: %s", claim.job_id, record.last_error)
            return BoardAction.CONSUME
        LOG.warning("Job %s attempt %d failed, handed back until %s: %s",
                    claim.job_id, record.attempts, record.not_before, error)
        return BoardAction.ABANDON


class _Guard:
    """Asked before every task starts or reverts: may the job go on here, now?

    While the ZooKeeper session is suspended the job waits (its lock may or
    may not still be ours); once the session is lost, or the conductor stops
    during the wait, the engine halts without starting the task. If the
    process stood still since the claim was last known to hold (SIGSTOP, a
    frozen VM), the lock is checked with ZooKeeper first: kazoo's own thread
    may not have noticed yet that the session expired meanwhile. Otherwise it
    returns the cancellation reason, if any.
    """

    def __init__(self, job: JobContext, cancel_check: Callable[[], str | None]) -> None:
        self._job = job
        self._cancel_check = cancel_check
        self._verified = time.monotonic()

    def __call__(self) -> str | None:
        job = self._job
        if job.stall.stalled_since(self._verified):
            self._check_lock()
        self._wait_for_session()
        return self._cancel_check()

    def _check_lock(self) -> None:
        job = self._job
        while True:
            checked_at = time.monotonic()
            try:
                held = job.holds()
            except jobs.BoardUnavailable:
                if job.lost.is_set() or job.stopping.is_set():
                    raise engines.EngineHalted("the claim cannot be confirmed after the "
                                               "process stood still") from None
                job.connected.wait(0.2)
                continue
            if not held:
                raise engines.EngineHalted("the process stood still and its claim on "
                                           "the job is gone")
            LOG.info("Job %s: the process stood still; its claim still holds",
                     job.spec.job_id)
            self._verified = checked_at
            return

    def _wait_for_session(self) -> None:
        job = self._job
        waited = False
        while not job.connected.is_set():
            if not waited:
                LOG.warning("Job %s: ZooKeeper session suspended; no task starts until "
                            "it is back", job.spec.job_id)
                waited = True
            if job.lost.is_set() or job.stopping.is_set():
                break
            job.connected.wait(0.2)
        if job.lost.is_set():
            raise engines.EngineHalted("the conductor lost its ZooKeeper session")
        if waited and not job.connected.is_set():
            raise engines.EngineHalted("the conductor is stopping while its ZooKeeper "
                                       "session is suspended")


class _CancelCheck:
    """Whether a job's cancellation was requested, asked of the database at most
    once per ``interval`` seconds, so short tasks do not each pay for a query."""

    def __init__(self, database: persistence.Database, job_id: str, interval: float,
                 requested: bool = False) -> None:
        self._db = database
        self._job_id = job_id
        self._interval = interval
        self._checked_at = time.monotonic() if not requested else -float("inf")
        self._reason: str | None = None

    @property
    def reason(self) -> str | None:
        """Why the job is being reverted: its cancellation, once seen; else None."""
        return self._reason

    def __call__(self) -> str | None:
        now = time.monotonic()
        if self._reason is None and now - self._checked_at >= self._interval:
            self._checked_at = now
            try:
                with self._db.session() as session:
                    requested_by = persistence.cancel_requested_by(session, self._job_id)
            except persistence.PersistenceError as exc:
                # The next boundary asks again; a failed check must not fail the job.
                LOG.warning("Job %s: cannot check for cancellation: %s", self._job_id, exc)
                return None
            if requested_by is not None:
                LOG.info("Job %s was cancelled; reverting it", self._job_id)
                self._reason = cancelled_by(requested_by)
        return self._reason


def cancelled_by(requested_by: str | None) -> str:
    """The reason a cancelled job records: who asked, when known."""
    return f"cancelled by {requested_by}" if requested_by else "cancelled by request"


def _cancel_outcome(cancel: _CancelCheck, state: persistence.JobState,
                    error: str | None) -> tuple[str | None, persistence.AttemptOutcome]:
    """A flow reverted because it was cancelled ends as a cancellation, not with
    the JobCancelled 'failure' its next task was given."""
    if cancel.reason is not None and state is persistence.JobState.REVERTED:
        return cancel.reason, persistence.AttemptOutcome.CANCELLED
    return error, persistence.AttemptOutcome.FINISHED


def _repair_injection(flow_detail: Any) -> None:
    """Mend a store injection a kill cut in half.

    TaskFlow's ``Storage.inject`` saves its injector atom, then, in another
    write, the values; a conductor killed between the two leaves an injector
    without results, on which every later load fails (``Storage.__init__``
    reads their keys). The values are injected again on load; what is missing
    is what the first write would have set with them: an empty mapping, and
    the SUCCESS state that makes them visible to the flow's atoms.
    """
    for atom in flow_detail:
        if atom.name == tf_storage.Storage.injector_name and atom.results is None:
            LOG.warning("Flow detail %s: its store injection was cut short by a lost "
                        "conductor; injecting the store again", flow_detail.uuid)
            atom.results = {}
            atom.state = states.SUCCESS


def _build_document(document: dict[str, Any], source: str) -> tuple[str, Any]:
    # Imported here: only jobs posted with documents need the command catalog.
    from orchestrator import declarative

    return declarative.flow_from_data(document, source=source)


def _caused_by(error: BaseException | None, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, kind):
            return True
        if isinstance(error, tf_exc.WrappedFailure):
            return any(f.check(kind) is not None for f in error)
        error = error.__cause__ or error.__context__
    return False


def _describe(error: BaseException | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {error}"


def _failure_summary(engine: Any) -> str | None:
    failures = engine.storage.get_execute_failures()
    if failures:
        atom, failure = next(iter(failures.items()))
        return f"{atom}: {failure.exception_str}" if failure.exception_str else atom
    error = getattr(engine, "last_error", None)
    if error is not None:
        return f"{type(error).__name__}: {error}"
    return None


def _failure_from_detail(flow_detail: Any) -> str | None:
    for atom in flow_detail:
        failure = getattr(atom, "failure", None)
        if failure is not None:
            return f"{atom.name}: {failure.exception_str}"
    return None
