"""The service layer: posting and inspecting jobs.

The CLI, the HTTP API and Python callers all go through ``Orchestrator``;
none of them talks to the jobboard or the database on its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jobs
import persistence
from orchestrator import validation
from orchestrator.errors import (
    AmbiguousJobId,
    IdempotencyConflict,
    InvalidMarker,
    InvalidRequest,
    InvalidStore,
    JobFinished,
    JobNotFinished,
    JobNotFound,
    MissingInputs,
    NoFailedRevert,
    NotUndoable,
    OrchestratorError,
    ServiceUnavailable,
    WaitTimeout,
)
from orchestrator.explain import Explanation, Facts, explain_job
from orchestrator.registry import (
    FlowInfo,
    FlowRegistry,
    document_revertible,
    flow_inputs,
    key_templates_of_document,
)

LOG = logging.getLogger(__name__)

JobRecord = persistence.JobRecord
JobState = persistence.JobState
TaskFailure = persistence.TaskFailure
TaskHistory = persistence.TaskHistory


PRIORITIES = persistence.PRIORITIES
MAX_IDEMPOTENCY_KEY = 255
MAX_PAGE = 1000
#: Seconds between two reloads of the flows that an unknown flow name triggers.
RELOAD_INTERVAL = 10.0


@dataclass(frozen=True)
class Posted:
    """The outcome of a post: the job, and whether this call created it.

    ``created`` is False when an earlier post with the same idempotency key
    already made the job.
    """

    record: JobRecord
    created: bool
    #: Store keys no task of the flow reads (a typo, most often); posted anyway.
    unused_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobPage:
    """One page of a job listing; ``next_marker`` continues it (None at the end)."""

    jobs: list[JobRecord]
    next_marker: str | None


@dataclass(frozen=True)
class ConductorStatus:
    """A live conductor and how many jobs it is running now."""

    info: jobs.ConductorInfo
    running_jobs: int


@dataclass(frozen=True)
class JobHistory:
    """What happened to a job: its record, its tasks in execution order, and the
    conductors that left it to others (they lack its flow or a command)."""

    record: JobRecord
    tasks: list[TaskHistory]
    passed_over: list[persistence.JobPass] = field(default_factory=list)
    #: Every attempt, first first; a cut-short one names the step it reached.
    attempts: list[persistence.AttemptRecord] = field(default_factory=list)
    #: Ids of the jobs posted as retries of this one.
    retried_by: list[str] = field(default_factory=list)


class Orchestrator:
    """Posts jobs for registered flows and reads their records."""

    def __init__(
        self,
        database: persistence.Database,
        registry: FlowRegistry | None,
        board_settings: jobs.JobboardSettings,
        *,
        client_name: str = "orchestrator-client",
        close_database: bool = False,
        max_nesting_depth: int = validation.DEFAULT_MAX_NESTING_DEPTH,
        load_registry: Callable[[], FlowRegistry] | None = None,
    ) -> None:
        self._db = database
        # A long-lived service (the API) looks again for a flow it does not
        # know, at most every RELOAD_INTERVAL seconds: it may have been
        # installed or added since.
        self._load_registry = load_registry
        self._reloaded_at = time.monotonic()
        self._max_nesting_depth = max_nesting_depth
        # None: built by ``load_registry`` when first needed (posting, the
        # flows); reading job records never needs it.
        self._loaded_registry = registry
        # Describing every flow builds each one (the API's /v1/flows, 20 ms):
        # done once per registry loaded, which is all a description depends on.
        self._described: tuple[FlowRegistry, list[FlowInfo]] | None = None
        if registry is None and load_registry is None:
            raise ValueError("give a registry, or a way to load one")
        self._board_settings = board_settings
        self._client_name = client_name
        self._stack = contextlib.ExitStack()
        if close_database:
            self._stack.callback(database.close)
        self._board: jobs.Board | None = None
        self._lifecycle = jobs.JobLifecycle(database)
        # The API calls the service from several threads; one board serves them all.
        self._board_lock = threading.Lock()
        self._schema_checked = False

    @property
    def _registry(self) -> FlowRegistry:
        if self._loaded_registry is None:
            assert self._load_registry is not None
            self._loaded_registry = self._load_registry()
            self._reloaded_at = time.monotonic()
        return self._loaded_registry

    def __enter__(self) -> Orchestrator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()
        self._board = None

    # flows -----------------------------------------------------------------

    def flows(self) -> list[FlowInfo]:
        self._reload_if_due()
        registry = self._registry
        described = self._described
        if described is None or described[0] is not registry:
            described = self._described = (registry, list(registry.describe_all()))
        return list(described[1])

    def validate(self, flow_name: str | None, store: object,
                 document: Mapping[str, Any] | None = None, *,
                 priority: str = "NORMAL", strict: bool = False,
                 ) -> tuple[str, str, tuple[str, ...]]:
        """Check the flow (by name, or a declarative document) and its store.

        Returns the flow's name, its label (its TaskFlow name) and the store
        keys no task reads. Nothing is
        written: whatever could fail later, when the job is stored, posted or
        shown, is refused here (see ``orchestrator.validation``). With
        ``strict``, a store key no task reads is refused too.
        """
        name, label, unused, _flow = self._check(flow_name, store, document,
                                                 priority=priority, strict=strict)
        return name, label, unused

    def _check(self, flow_name: str | None, store: object,
               document: Mapping[str, Any] | None, *, priority: str, strict: bool,
               ) -> tuple[str, str, tuple[str, ...], Any]:
        """``validate``, plus the flow built from ``document`` (None without one)."""
        flow = None
        if not isinstance(store, Mapping) or not all(isinstance(k, str) for k in store):
            raise InvalidStore(
                "the store must be a JSON object mapping input names to values, "
                f"not {type(store).__name__}"
            )
        if isinstance(flow_name, str):
            validation.check_text(flow_name, "the flow name")
        # Before anything encodes them: json.dumps recurses, and may not finish.
        validation.check_json(store, "the store", max_depth=self._max_nesting_depth)
        if document is not None:
            validation.check_json(document, "the document",
                                  max_depth=self._max_nesting_depth)
        try:
            json.dumps(store, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidStore(f"the store is not plain JSON: {exc}") from exc
        if document is not None:
            if flow_name is not None:
                raise InvalidRequest("give a flow name or a flow document, not both")
            flow_name, flow = self._build_document(document)
            label, requires = str(flow.name), frozenset(flow.requires)
            inputs = flow_inputs(flow)
        elif flow_name is None:
            raise InvalidRequest("name the flow to run, or give a flow document")
        else:
            if flow_name not in self._registry:
                self._reload_if_due()
            label, requires = self._registry.shape(flow_name)
            inputs = self._registry.inputs(flow_name)
        missing = requires - set(store)
        if missing:
            raise MissingInputs(flow_name, missing)
        unused = sorted(set(store) - inputs)
        if strict and unused:
            raise InvalidStore(f"no task of flow {flow_name!r} reads store key(s) "
                               + ", ".join(unused) + "; it reads: "
                               + (", ".join(sorted(inputs)) or "nothing"))
        validation.check_posting_size(flow_name, store, priority=priority)
        return flow_name, label, tuple(unused), flow

    # jobs ------------------------------------------------------------------

    def post(self, flow_name: str | None, store: Mapping[str, Any] | None = None,
             *, priority: str = "NORMAL", idempotency_key: str | None = None,
             document: Mapping[str, Any] | None = None,
             concurrency_keys: Collection[str] = ()) -> JobRecord:
        """Post a job and return its record (see ``submit``)."""
        return self.submit(flow_name, store, priority=priority,
                           idempotency_key=idempotency_key, document=document,
                           concurrency_keys=concurrency_keys).record

    def submit(self, flow_name: str | None, store: Mapping[str, Any] | None = None,
               *, priority: str = "NORMAL", idempotency_key: str | None = None,
               document: Mapping[str, Any] | None = None, strict: bool = False,
               concurrency_keys: Collection[str] = ()) -> Posted:
        """Post a job for a registered flow, or for a declarative flow document.

        With an ``idempotency_key`` already used by an earlier post of the same
        flow and store, that job is returned and nothing new is posted; used
        with a different flow or store, the key is a conflict. The job's
        concurrency keys are ``concurrency_keys`` and those the flow's key
        templates make of the store (``node:{node}``).
        """
        store = {} if store is None else store
        priority = priority.upper() if isinstance(priority, str) else priority
        if priority not in PRIORITIES:
            raise InvalidRequest(f"unknown priority {priority!r}; one of: "
                                 + ", ".join(PRIORITIES))
        if idempotency_key is not None:
            _check_idempotency_key(idempotency_key)
        name, label, unused, built = self._check(flow_name, store, document,
                                                 priority=priority, strict=strict)
        keys = self._job_keys(name, store, document, concurrency_keys)
        self._check_schema()
        if idempotency_key is not None:
            earlier = self._by_idempotency_key(idempotency_key, name, store, document, keys)
            if earlier is not None:
                return Posted(earlier, created=False)
        try:
            record = self._lifecycle.post(
                self._jobboard(), flow_name=name, flow_label=label,
                store=store, priority=priority, idempotency_key=idempotency_key,
                document=document, concurrency_keys=keys,
                meta=self._shape_meta(name, built))
        except persistence.DuplicateIdempotencyKey:
            # Another post with the same key won the race.
            assert idempotency_key is not None
            earlier = self._by_idempotency_key(idempotency_key, name, store, document,
                                               keys)
            if earlier is None:
                raise
            return Posted(earlier, created=False)
        except jobs.JobsError as exc:
            raise ServiceUnavailable(str(exc)) from exc
        return Posted(record, created=True, unused_keys=unused)

    def cancel(self, job_id: str, requested_by: str | None = None) -> JobRecord:
        """Ask for the job to be cancelled; return its record.

        A job no conductor has claimed yet is finished REVERTED at once (it
        did nothing). A running job stops at its next task boundary and its
        conductor reverts what it did; a suspended one does so when it is next
        claimed. A finished job cannot be cancelled: ``JobFinished``.
        ``requested_by`` names who asked (a user, a tool); it is recorded.
        """
        job_id = self.resolve_job_id(job_id)
        if requested_by is not None:
            validation.check_text(requested_by, "the requester's name")
            requested_by = requested_by[:255]
        record = self._lifecycle.request_cancel(job_id, requested_by)
        if record is None:
            with self._db.session() as session:
                existing = persistence.get_job(session, job_id)
            if existing is None:
                raise JobNotFound(job_id)
            raise JobFinished(job_id, existing.state.value)
        return record

    def retry(self, job_id: str) -> Posted:
        """Post a new job with the finished job's flow (or document), store and
        priority, linked to it (``retry_of``; the original lists it in
        ``retried_by``). ``JobNotFinished`` for a job that has not finished."""
        record = self.get_job(job_id)
        if not record.is_terminal:
            raise JobNotFinished(record.id, record.state.value, "retried")
        flow = None if record.document is not None else record.flow_name
        name, label, _unused, built = self._check(flow, record.store, record.document,
                                                  priority=record.priority, strict=False)
        try:
            posted = self._lifecycle.post(
                self._jobboard(), flow_name=name, flow_label=label, store=record.store,
                priority=record.priority, document=record.document, retry_of=record.id,
                concurrency_keys=record.concurrency_keys,
                meta=self._shape_meta(name, built))
        except jobs.JobsError as exc:
            raise ServiceUnavailable(str(exc)) from exc
        return Posted(posted, created=True)

    def resume_revert(self, job_id: str, requested_by: str | None = None) -> JobRecord:
        """Reopen a job that ended FAILED because a task's revert raised, once its
        cause is fixed: the same job is posted again and a conductor reverts
        that task again, then the rest, last first; nothing executes again.
        ``NoFailedRevert`` (409) for a job that is not FAILED, or failed otherwise.
        """
        # Imported here: it needs TaskFlow, which reading jobs does not.
        from orchestrator import revert_resume

        return self._revert_on_request(
            job_id, requested_by, JobState.FAILED, revert_resume.request,
            check=lambda record: (None if record.state is JobState.FAILED
                                  else f"it is {record.state.value}, not FAILED"),
            refused=NoFailedRevert, not_noted="no task's revert failed; retry it instead",
            reason="revert resumed at the request of {by}")

    def undoable(self, record: JobRecord) -> str | None:
        """Why the job cannot be undone now; None when it can."""
        if record.state is not JobState.SUCCESS:
            return f"it is {record.state.value}, not SUCCESS"
        if record.document is not None:
            revertible = document_revertible(record.document)
        else:
            try:
                revertible = self._registry.revertible_after_success(record.flow_name)
            except OrchestratorError as exc:
                return f"its flow cannot be checked here: {exc}"
        if not revertible:
            return (f"flow {record.flow_name!r} does not declare itself revertible "
                    "after success")
        return None

    def undo(self, job_id: str, requested_by: str | None = None) -> JobRecord:
        """Reopen a SUCCESS job so that a conductor reverts each of its tasks, last
        first, with the result each recorded; the job then ends REVERTED, saying
        who asked. Only for flows that declare themselves revertible after
        success. ``NotUndoable`` (409) otherwise.
        """
        from orchestrator import revert_resume

        return self._revert_on_request(
            job_id, requested_by, JobState.SUCCESS, revert_resume.request_undo,
            check=self.undoable, refused=NotUndoable,
            not_noted="its flow's record is not SUCCESS",
            reason="undo requested by {by}")

    def _revert_on_request(
        self, job_id: str, requested_by: str | None, from_state: JobState,
        note: Callable[[persistence.Database, str, str | None, datetime], object], *,
        check: Callable[[JobRecord], str | None],
        refused: Callable[[str, str], OrchestratorError], not_noted: str, reason: str,
    ) -> JobRecord:
        """Reopen a finished job for a conductor to revert as ``note`` asks, in its
        flow detail: the conditional reopen lets one of two requests through."""
        record = self.get_job(job_id)
        if requested_by is not None:
            validation.check_text(requested_by, "the requester's name")
            requested_by = requested_by[:255]
        why = check(record)
        if why is not None:
            raise refused(record.id, why)
        board = self._jobboard()
        if not note(self._db, record.flow_detail_id, requested_by, datetime.now(UTC)):
            raise refused(record.id, not_noted)
        try:
            reopened = self._lifecycle.reopen(
                board, record.id, from_state=from_state,
                reason=reason.format(by=requested_by or "?"))
        except jobs.JobsError as exc:
            raise ServiceUnavailable(str(exc)) from exc
        if reopened is None:
            raise refused(record.id, f"it is no longer {from_state.value} (asked twice?)")
        return reopened

    def explain(self, job_id: str) -> Explanation:
        """Why the job is, or is not, running now (see ``orchestrator.explain``)."""
        record = self.get_job(job_id)
        conductors: list[jobs.ConductorInfo] | None = None
        board_error = None
        if not record.is_terminal:
            try:
                conductors = self._jobboard().alive_conductors()
            except (jobs.JobsError, ServiceUnavailable) as exc:
                board_error = f"ZooKeeper cannot say which conductors are alive: {exc}"
        with self._db.session() as session:
            facts = Facts(
                record=record, attempts=persistence.job_attempts(session, record.id),
                passes=persistence.job_passes(session, record.id),
                conductors=conductors, board_error=board_error,
                running_by_owner=persistence.running_by_owner(session),
                ahead=0 if record.is_terminal else persistence.waiting_ahead(session,
                                                                             record),
                now=datetime.now(UTC),
                key_holds=persistence.key_holds(session.connection(),
                                                record.concurrency_keys))
        return explain_job(facts)

    def conductors(self) -> list[ConductorStatus]:
        """The conductors alive now (registered in ZooKeeper), by name."""
        try:
            alive = self._jobboard().alive_conductors()
        except jobs.JobsError as exc:
            raise ServiceUnavailable(str(exc)) from exc
        self._check_schema()
        with self._db.session() as session:
            running = persistence.running_by_owner(session)
        return [ConductorStatus(info, running.get(info.name, 0)) for info in alive]

    def get_job(self, job_id: str) -> JobRecord:
        """The job with that id, or with the one id that starts so (``resolve_job_id``)."""
        validation.check_text(job_id, "the job id")
        self._check_schema()
        with self._db.session() as session:
            record = persistence.get_job(session, job_id)
            if record is None:
                record = persistence.get_job(session, self._by_prefix(session, job_id))
        if record is None:
            raise JobNotFound(job_id)
        return record

    def resolve_job_id(self, job_id: str) -> str:
        """The whole id of the job ``job_id`` names: itself, or the one id it begins.

        ``JobNotFound`` when no job's id starts so, ``AmbiguousJobId`` when
        more than one does.
        """
        validation.check_text(job_id, "the job id")
        self._check_schema()
        with self._db.session() as session:
            if persistence.get_job(session, job_id) is not None:
                return job_id
            return self._by_prefix(session, job_id)

    def _by_prefix(self, session: Any, prefix: str) -> str:
        matches = persistence.job_ids_starting(session, prefix, limit=6)
        if not matches:
            raise JobNotFound(prefix)
        if len(matches) > 1:
            raise AmbiguousJobId(prefix, matches)
        return matches[0]

    def job_history(self, job_id: str) -> JobHistory:
        """The job's record and its tasks as their last run left them.

        A job no conductor has started yet has no tasks. The record is read
        first: a job that is terminal in it has every task's final state.
        """
        record = self.get_job(job_id)
        with self._db.session() as session:
            passes = persistence.job_passes(session, record.id)
            attempts = persistence.job_attempts(session, record.id)
            retried_by = persistence.retries_of(session, record.id)
        tasks = persistence.job_tasks(self._db, record.flow_detail_id)
        return JobHistory(record=record, tasks=tasks, passed_over=passes,
                          attempts=[_with_step(a, tasks) for a in attempts],
                          retried_by=retried_by)

    def list_jobs(self, *, states: Collection[JobState] | None = None,
                  flow_name: str | None = None, since: datetime | None = None,
                  until: datetime | None = None, limit: int = 100) -> list[JobRecord]:
        return self.page_jobs(states=states, flow_name=flow_name, since=since,
                              until=until, limit=limit).jobs

    def page_jobs(self, *, states: Collection[JobState] | None = None,
                  flow_name: str | None = None, since: datetime | None = None,
                  until: datetime | None = None, limit: int = 100,
                  marker: str | None = None) -> JobPage:
        """Jobs matching the filters, newest first, ``limit`` at a time.

        ``marker`` is the ``next_marker`` of the previous page: the id of the
        last job it held.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
        validation.check_time(since, "since")
        validation.check_time(until, "until")
        if flow_name is not None:
            validation.check_text(flow_name, "the flow filter")
        if marker is not None:
            validation.check_text(marker, "the marker")
        self._check_schema()
        with self._db.session() as session:
            after = None
            if marker is not None:
                after = persistence.get_job(session, marker)
                if after is None:
                    raise InvalidMarker(marker)
            # One more than asked tells whether another page follows.
            found = persistence.list_jobs(session, states=states, flow_name=flow_name,
                                          since=since, until=until, after=after,
                                          limit=limit + 1)
        page = found[:limit]
        more = len(found) > limit
        return JobPage(jobs=page, next_marker=page[-1].id if more else None)

    def wait(
        self,
        job_id: str,
        *,
        timeout: float | None = None,
        interval: float = 0.2,
        on_change: Callable[[JobRecord], None] | None = None,
    ) -> JobRecord:
        """Follow a job until it finishes; call ``on_change`` on every change."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last: tuple[Any, ...] | None = None
        while True:
            record = self.get_job(job_id)
            key = (record.state, record.attempts, record.owner)
            if key != last:
                last = key
                if on_change is not None:
                    on_change(record)
            if record.state in persistence.TERMINAL_STATES:
                return record
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(
                    f"job {job_id} is still {record.state.value} after {timeout:g}s"
                )
            time.sleep(interval)

    # internals -------------------------------------------------------------

    def _reload_if_due(self) -> None:
        if (self._load_registry is None
                or time.monotonic() - self._reloaded_at < RELOAD_INTERVAL):
            return
        self._reloaded_at = time.monotonic()
        try:
            self._loaded_registry = self._load_registry()
        except Exception:  # noqa: BLE001 - keep serving the flows loaded before
            LOG.exception("Reloading the flows failed; keeping those loaded before")

    def _jobboard(self) -> jobs.Board:
        with self._board_lock:
            return self._open_jobboard()

    def _open_jobboard(self) -> jobs.Board:
        if self._board is None:
            try:
                self._board = self._stack.enter_context(
                    jobs.open_jobboard(self._board_settings, self._client_name,
                                      watch=False))
            except jobs.BoardUnavailable as exc:
                raise ServiceUnavailable(str(exc)) from exc
        return self._board

    def _by_idempotency_key(self, key: str, flow_name: str, store: Mapping[str, Any],
                            document: Mapping[str, Any] | None,
                            keys: tuple[str, ...]) -> JobRecord | None:
        with self._db.session() as session:
            earlier = persistence.get_job_by_idempotency_key(session, key)
        if earlier is None:
            return None
        same = (earlier.flow_name == flow_name and earlier.store == dict(store)
                and earlier.document == (None if document is None else dict(document))
                and earlier.concurrency_keys == keys)
        if not same:
            raise IdempotencyConflict(key, earlier.id)
        return earlier

    def _job_keys(self, flow_name: str, store: Mapping[str, Any],
                  document: Mapping[str, Any] | None,
                  given: Collection[str]) -> tuple[str, ...]:
        """The job's concurrency keys: those given, and the flow's templates filled
        in from the store."""
        if isinstance(given, str) or not isinstance(given, Collection):
            raise InvalidRequest("concurrency keys must be a list of strings")
        templates = (key_templates_of_document(document) if document is not None
                     else self._registry.key_templates(flow_name))
        try:
            return jobs.normalize_keys([*given, *jobs.render_keys(templates, store)])
        except jobs.InvalidKey as exc:
            raise InvalidRequest(str(exc)) from exc

    def _shape_meta(self, flow_name: str, document_flow: Any) -> dict[str, Any]:
        """The flow detail's record of the flow's shape (``orchestrator.shapes``):
        of the flow built from the job's document when it has one (built once,
        when it was checked), else of the registered flow (built once per name)."""
        from orchestrator import shapes

        record = (shapes.record_for(document_flow) if document_flow is not None
                  else self._registry.shape_record(flow_name))
        return {shapes.SHAPE_KEY: record}

    def _build_document(self, document: Mapping[str, Any]) -> tuple[str, Any]:
        # Imported here: only posts of documents need the command catalog.
        from orchestrator import declarative

        return declarative.flow_from_data(document, source="the posted document")

    def _check_schema(self) -> None:
        if not self._schema_checked:
            check_schema(self._db)
            self._schema_checked = True


CANCELLED_BEFORE_START = jobs.CANCELLED_BEFORE_START


def _with_step(attempt: persistence.AttemptRecord,
               tasks: list[TaskHistory]) -> persistence.AttemptRecord:
    """The attempt, naming the last step it started if its record does not.

    Read from the tasks' times: a step started within the attempt's span.
    Only a task's last run is kept, so a step run again later is credited to
    the later attempt.
    """
    if attempt.step is not None:
        return attempt
    end = attempt.ended_at or datetime.max.replace(tzinfo=UTC)
    started = [(when, task.name) for task in tasks
               for when in (task.execute_started_at, task.revert_started_at)
               if when is not None and attempt.started_at <= when <= end]
    if not started:
        return attempt
    return dataclasses.replace(attempt, step=max(started)[1])


def _check_idempotency_key(key: object) -> None:
    if (not isinstance(key, str) or not key or len(key) > MAX_IDEMPOTENCY_KEY
            or not key.isprintable()):
        raise InvalidRequest(
            f"an idempotency key must be 1 to {MAX_IDEMPOTENCY_KEY} printable "
            f"characters, not {key!r:.80}")


def check_schema(database: persistence.Database) -> None:
    """Refuse to work on a database that 'orchestrator db upgrade' has not prepared."""
    try:
        current = database.schema_current()
    except persistence.PersistenceError as exc:
        raise ServiceUnavailable(str(exc)) from exc
    if not current:
        raise OrchestratorError(
            f"the database {database.url} is not initialised or not up to date: "
            "run 'orchestrator db upgrade'"
        )
