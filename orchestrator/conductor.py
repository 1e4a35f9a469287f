"""The conductor: claims jobs from the jobboard and runs them with SQL persistence.

One subclass of TaskFlow's non-blocking conductor, changed where stock TaskFlow
falls short:

* it builds only flows from the registry, by the name the job payload carries,
  and never imports the factory path a flow detail names;
* it runs only jobs that have a row in our job table (posted through us);
* it records each job's outcome (SUCCESS, REVERTED, FAILED with the error);
* a job that keeps hitting storage or execution errors is failed after
  ``max_attempts`` claims instead of being handed back forever;
* a flow already finished (its conductor died before consuming the job) is not
  run again: TaskFlow would reset a REVERTED flow and run it from scratch;
* a job whose cancellation was requested stops at its next task boundary and
  reverts (stock TaskFlow can only suspend a flow, never revert it on request);
* a job posted with a declarative flow document runs the flow built from the
  copy in its job record, which a forged jobboard entry cannot supply.
"""

from __future__ import annotations

import importlib.metadata
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import taskflow.engines
from taskflow import states
from taskflow.conductors.backends import impl_nonblocking
from taskflow.listeners import timing
from taskflow.types import entity as tf_entity
from taskflow.utils import misc

import persistence
from jobs import InvalidJobDetails, JobSpec, flow_name_from_meta
from orchestrator import engines
from orchestrator.errors import OrchestratorError
from orchestrator.registry import FlowRegistry
from orchestrator.service import CANCELLED_BEFORE_START

LOG = logging.getLogger(__name__)

_FINISHED_FLOW_STATES = {
    states.SUCCESS: persistence.JobState.SUCCESS,
    states.REVERTED: persistence.JobState.REVERTED,
    states.FAILURE: persistence.JobState.FAILED,
}


class RejectedJob(OrchestratorError):
    """The conductor refused to run a job; it is moved to the jobboard's trash."""


class GaveUp(OrchestratorError):
    """The job failed on every allowed attempt; it is moved to the trash."""


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


class FlowConductor(impl_nonblocking.NonBlockingConductor):
    def __init__(
        self,
        settings: ConductorSettings,
        jobboard: Any,
        database: persistence.Database,
        registry: FlowRegistry,
    ) -> None:
        engine_options: dict[str, Any] = {}
        if settings.engine == "parallel":
            engine_options = {"executor": "threaded", "max_workers": settings.engine_workers}
        super().__init__(
            settings.name,
            jobboard,
            persistence=database.taskflow_backend(),
            engine=settings.engine,
            engine_options=engine_options,
            wait_timeout=settings.poll_interval,
            max_simultaneous_jobs=settings.max_simultaneous_jobs,
        )
        self._settings = settings
        self._db = database
        self._registry = registry
        self._engines: dict[str, Any] = {}
        self._records: dict[str, persistence.JobRecord] = {}
        self._engines_lock = threading.Lock()
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        super().stop()

    @misc.cachedproperty
    def conductor(self) -> Any:
        """TaskFlow's entity for this conductor, with what operators want to see."""
        entity = super().conductor
        metadata = {
            **entity.metadata,
            "name": self.name,
            "engine": self._settings.engine,
            "max_simultaneous_jobs": self._settings.max_simultaneous_jobs,
            "version": _version(),
        }
        return tf_entity.Entity(entity.kind, entity.name, metadata)

    # TaskFlow seams --------------------------------------------------------

    def _engine_from_job(self, job: Any) -> Any:
        spec = self._spec(job)
        flow_detail = self._flow_detail_from_job(job)
        recorded = flow_name_from_meta(flow_detail.meta)
        if recorded != spec.flow_name:
            raise RejectedJob(
                f"job {spec.job_id} names flow {spec.flow_name!r} but its flow "
                f"detail records {recorded!r}"
            )
        with self._engines_lock:
            record = self._records.get(job.uuid)
        try:
            flow = self._build_flow(spec, record)
        except OrchestratorError as exc:
            raise RejectedJob(f"job {spec.job_id}: {exc}") from exc
        engine = taskflow.engines.load(
            flow,
            store=dict(spec.store),
            flow_detail=flow_detail,
            book=job.book,
            backend=self._persistence,
            engine=self._engine,
            namespace=engines.NAMESPACE,
            **{**self._engine_options,
               engines.CANCEL_CHECK: _CancelCheck(self._db, spec.job_id,
                                                  self._settings.cancel_check_interval)},
        )
        with self._engines_lock:
            self._engines[job.uuid] = engine
        return engine

    def _listeners_from_job(self, job: Any, engine: Any) -> list[Any]:
        listeners = super()._listeners_from_job(job, engine)
        # Execute and revert timestamps per atom, for the job history.
        listeners.append(timing.EventTimeListener(engine))
        return listeners

    def _dispatch_job(self, job: Any) -> bool:
        spec = self._spec(job)
        try:
            record = self._claim_record(spec)
        except persistence.PersistenceError as exc:
            # Our database is unreachable: nothing ran and nothing can be recorded.
            LOG.warning("Job %s: cannot read its record (%s); handing it back",
                        spec.job_id, exc)
            self._stopping.wait(self._settings.retry_delay)
            return False
        if record is None:
            return True
        try:
            flow_detail = self._flow_detail_from_job(job)
        except self.NO_CONSUME_EXCEPTIONS as exc:
            return self._retry_or_give_up(spec, record, f"{type(exc).__name__}: {exc}")
        if flow_detail.state in _FINISHED_FLOW_STATES:
            # A conductor died after the flow ended but before recording it.
            # TaskFlow would reset a REVERTED flow and run it all again.
            state = _FINISHED_FLOW_STATES[flow_detail.state]
            LOG.info("Job %s: its flow already ended %s; recording it", spec.job_id,
                     flow_detail.state)
            self._finish(spec.job_id, state, _failure_from_detail(flow_detail))
            return True
        LOG.info("Running job %s (%s), attempt %d", spec.job_id, spec.flow_name,
                 record.attempts)
        with self._engines_lock:
            self._records[job.uuid] = record
        try:
            consume = bool(super()._dispatch_job(job))
        except self.NO_CONSUME_EXCEPTIONS as exc:
            # Storage trouble while loading the flow: worth another attempt.
            return self._retry_or_give_up(spec, record, f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            self._finish(spec.job_id, persistence.JobState.FAILED,
                         f"{type(exc).__name__}: {exc}")
            raise
        finally:
            with self._engines_lock:
                engine = self._engines.pop(job.uuid, None)
                self._records.pop(job.uuid, None)
        return self._record_outcome(spec, record, engine, consume)

    def _claim_record(self, spec: JobSpec) -> persistence.JobRecord | None:
        """Mark the job RUNNING under this conductor; None if it already finished.

        Raises RejectedJob for a job this conductor must never run.
        """
        refusal: str | None = None
        record: persistence.JobRecord | None = None
        with self._db.session() as session:
            before = persistence.get_job(session, spec.job_id)
            if before is None:
                raise RejectedJob(
                    f"job {spec.job_id} ({spec.flow_name}) was not posted through "
                    "the orchestrator: it has no job record"
                )
            if before.flow_name != spec.flow_name:
                raise RejectedJob(
                    f"job {spec.job_id} names flow {spec.flow_name!r} on the "
                    f"jobboard but {before.flow_name!r} in its record"
                )
            if before.state in persistence.TERMINAL_STATES:
                LOG.info("Job %s already finished %s; consuming it", spec.job_id,
                         before.state.value)
                return None
            if before.cancel_requested_at is not None and before.attempts == 0:
                # Cancelled before it ever ran: there is nothing to revert.
                persistence.finish_unstarted(session, spec.job_id,
                                             persistence.JobState.REVERTED,
                                             CANCELLED_BEFORE_START)
                LOG.info("Job %s was cancelled before it started", spec.job_id)
                return None
            if before.document is not None or spec.flow_name in self._registry:
                record = persistence.mark_claimed(session, spec.job_id, self.name)
                if record is None:
                    return None  # finished (cancelled) since it was read
            else:
                refusal = f"flow {spec.flow_name!r} is not registered on conductor {self.name}"
                persistence.mark_finished(session, spec.job_id,
                                          persistence.JobState.FAILED, refusal)
        if refusal is not None:
            raise RejectedJob(refusal)
        return record

    def _build_flow(self, spec: JobSpec, record: persistence.JobRecord | None) -> Any:
        if record is None or record.document is None:
            return self._registry.build(spec.flow_name)
        # Imported here: only jobs posted with documents need the command catalog.
        from orchestrator import declarative

        name, flow = declarative.flow_from_data(record.document,
                                                source=f"job {spec.job_id}'s document")
        if name != spec.flow_name:
            raise RejectedJob(f"job {spec.job_id} names flow {spec.flow_name!r} but its "
                              f"document is {name!r}")
        return flow

    # outcome ---------------------------------------------------------------

    def _record_outcome(self, spec: JobSpec, record: persistence.JobRecord,
                        engine: Any, consume: bool) -> bool:
        flow_state = engine.storage.get_flow_state() if engine is not None else None
        if flow_state in _FINISHED_FLOW_STATES:
            state = _FINISHED_FLOW_STATES[flow_state]
            error = None if state is persistence.JobState.SUCCESS else _failure_summary(engine)
            self._finish(spec.job_id, state, error)
            LOG.info("Job %s finished %s", spec.job_id, state.value)
            return True
        if flow_state == states.SUSPENDED:
            with self._db.session() as session:
                persistence.mark_released(session, spec.job_id,
                                          persistence.JobState.SUSPENDED)
            LOG.info("Job %s suspended; handing it back", spec.job_id)
            return False
        error = _failure_summary(engine) or f"flow ended in state {flow_state}"
        if consume:
            # TaskFlow drops a job whose run raised something other than a storage
            # or execution failure: it will not run again, so it has failed.
            self._finish(spec.job_id, persistence.JobState.FAILED, error)
            return True
        return self._retry_or_give_up(spec, record, error)

    def _retry_or_give_up(self, spec: JobSpec, record: persistence.JobRecord,
                          error: str) -> bool:
        """Hand the job back for another attempt, or fail it after max_attempts."""
        if record.attempts >= self._settings.max_attempts:
            self._finish(spec.job_id, persistence.JobState.FAILED,
                         f"gave up after {record.attempts} attempts: {error}")
            raise GaveUp(f"job {spec.job_id} gave up after {record.attempts} attempts")
        delay = min(self._settings.retry_delay * 2 ** (record.attempts - 1), 60.0)
        LOG.warning("Job %s attempt %d failed, handing it back in %.1fs: %s",
                    spec.job_id, record.attempts, delay, error)
        # Backing off while still holding the claim keeps every conductor off the
        # job for that long; a stop request cuts the wait short.
        self._stopping.wait(delay)
        with self._db.session() as session:
            persistence.mark_released(session, spec.job_id, persistence.JobState.POSTED,
                                      error)
        return False

    def _finish(self, job_id: str, state: persistence.JobState, error: str | None) -> None:
        with self._db.session() as session:
            persistence.mark_finished(session, job_id, state, error)

    def _spec(self, job: Any) -> JobSpec:
        try:
            return JobSpec.from_details(job.details)
        except InvalidJobDetails as exc:
            raise RejectedJob(f"job {job.uuid}: {exc}") from exc

    @property
    def name(self) -> str:
        return str(self._name)


class _CancelCheck:
    """Whether a job's cancellation was requested, asked of the database at most
    once per ``interval`` seconds, so short tasks do not each pay for a query."""

    def __init__(self, database: persistence.Database, job_id: str, interval: float) -> None:
        self._db = database
        self._job_id = job_id
        self._interval = interval
        self._checked_at = -float("inf")
        self._reason: str | None = None

    def __call__(self) -> str | None:
        now = time.monotonic()
        if self._reason is None and now - self._checked_at >= self._interval:
            self._checked_at = now
            try:
                with self._db.session() as session:
                    requested = persistence.is_cancel_requested(session, self._job_id)
            except persistence.PersistenceError as exc:
                # The next boundary asks again; a failed check must not fail the job.
                LOG.warning("Job %s: cannot check for cancellation: %s", self._job_id, exc)
                return None
            if requested:
                LOG.info("Job %s was cancelled; reverting it", self._job_id)
                self._reason = "job cancelled by request"
        return self._reason


def _version() -> str:
    try:
        return importlib.metadata.version("orchestrator")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _failure_summary(engine: Any) -> str | None:
    if engine is None:
        return None
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
