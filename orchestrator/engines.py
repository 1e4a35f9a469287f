"""TaskFlow engines that remember what ended a run, can be cancelled, and halt.

TaskFlow's conductor catches whatever a run raises and only logs it; a failure
outside any task (a result the database refuses, a storage error) then leaves
no trace in the flow's state. These engines keep the exception, so the job
record can say why the job failed. They are loaded through TaskFlow's own
engine seam: ``engines.load(..., namespace=NAMESPACE)``.

Given the ``cancel_check`` option, a callable asked before every task starts
(or reverts), they stop a cancelled job at its next task boundary. The same
callable may raise ``EngineHalted``: the conductor no longer holds the job (or
may not act on it now), so no task starts and nothing is reverted.

A run ended by the infrastructure (a halt, a refused or impossible write) does
not mark the flow FAILED, as TaskFlow would: the flow is not at fault, and its
next owner resumes it where it stopped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import futurist
from taskflow import exceptions as tf_exc
from taskflow import states as tf_states
from taskflow.engines.action_engine import engine as action_engine
from taskflow.engines.action_engine import executor as tf_executor
from taskflow.types import failure as tf_failure
from taskflow.utils import misc

from persistence.taskflow_storage import LeanStorage

NAMESPACE = "orchestrator.engines"

#: Engine option: a callable returning a reason (str) once the job is to be
#: cancelled, None until then. It is called before each task starts.
CANCEL_CHECK = "cancel_check"


class JobCancelled(Exception):
    """The job was cancelled; its flow reverts what it did."""


class EngineHalted(Exception):
    """The engine stopped before a task because its job may not go on here."""


#: Exceptions that end a run through no fault of the flow. ``persistence``
#: errors (a lost claim, an unreachable database) join these at load time.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (EngineHalted,
                                                          tf_exc.StorageFailure)


def is_infrastructure_error(exc: BaseException | None,
                            kinds: tuple[type[BaseException], ...] | None = None) -> bool:
    """Whether ``exc`` (or every failure it wraps) is an infrastructure error."""
    kinds = kinds or INFRASTRUCTURE_ERRORS
    if exc is None:
        return False
    if isinstance(exc, tf_exc.WrappedFailure):
        return all(f.check(*kinds) is not None for f in exc)
    return isinstance(exc, kinds)


class CancellingExecutor(tf_executor.TaskExecutor):
    """Runs tasks through another executor until the job is cancelled.

    A cancelled job's next task is not started: it fails with JobCancelled
    at once, so TaskFlow reverts the tasks already done, last first. That
    task's own revert is skipped, since it never ran.
    """

    def __init__(self, inner: tf_executor.TaskExecutor,
                 cancel_check: Callable[[], str | None]) -> None:
        self._inner = inner
        self._cancel_check = cancel_check

    def start(self) -> None:
        self._inner.start()

    def stop(self) -> None:
        self._inner.stop()

    def execute_task(self, task: Any, task_uuid: str, arguments: Any,
                     progress_callback: Any = None) -> Any:
        reason = self._cancel_check()
        if reason is None:
            return self._inner.execute_task(task, task_uuid, arguments,
                                            progress_callback=progress_callback)
        failure = tf_failure.Failure.from_exception(JobCancelled(reason))
        return _done(task, (tf_executor.EXECUTED, failure))

    def revert_task(self, task: Any, task_uuid: str, arguments: Any, result: Any,
                    failures: Any, progress_callback: Any = None) -> Any:
        if isinstance(result, tf_failure.Failure) and result.check(JobCancelled):
            return _done(task, (tf_executor.REVERTED, None))
        # A revert is a task boundary too: it may halt (EngineHalted), while a
        # cancellation changes nothing for a flow already reverting.
        self._cancel_check()
        return self._inner.revert_task(task, task_uuid, arguments, result, failures,
                                       progress_callback=progress_callback)


def _done(task: Any, outcome: Any) -> Any:
    future: Any = futurist.Future()
    future.set_result(outcome)
    future.atom = task
    return future


#: Engine option: the exception types that end a run without failing the flow.
INFRASTRUCTURE = "infrastructure_errors"


class _RecordsErrors:
    last_error: BaseException | None = None
    _task_executor: Any
    _options: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        check = self._options.get(CANCEL_CHECK)
        if check is not None:
            self._task_executor = CancellingExecutor(self._task_executor, check)

    def _recording(self, method: Any, *args: Any) -> Any:
        try:
            return method(*args)
        except BaseException as exc:
            self.last_error = exc
            raise

    def _change_state(self, state: Any) -> Any:
        # TaskFlow marks the flow FAILURE on any exception; for one raised by
        # the infrastructure that would make the next owner record a failure
        # the flow never had.
        if state == tf_states.FAILURE and is_infrastructure_error(
                sys.exc_info()[1], self._options.get(INFRASTRUCTURE)):
            return None
        return super()._change_state(state)  # type: ignore[misc]

    @misc.cachedproperty
    def storage(self) -> LeanStorage:
        """TaskFlow's storage unit, writing each state change once (``LeanStorage``)."""

        def scope_fetcher(atom_name: str) -> Any:
            # As TaskFlow's own engine: scopes are known once compiled.
            if self._compiled:  # type: ignore[attr-defined]
                return self._runtime.fetch_scopes_for(atom_name)  # type: ignore[attr-defined]
            return None

        return LeanStorage(self._flow_detail, backend=self._backend,  # type: ignore[attr-defined]
                           scope_fetcher=scope_fetcher)

    def compile(self) -> Any:
        return self._recording(super().compile)  # type: ignore[misc]

    def prepare(self) -> Any:
        # Its RESUMING and SUSPENDED last a moment: only the atoms it ensures
        # are written, and the RUNNING that follows.
        with self.storage.quiet_flow_states():
            return self._recording(super().prepare)  # type: ignore[misc]

    def validate(self) -> Any:
        return self._recording(super().validate)  # type: ignore[misc]

    def run_iter(self, timeout: float | None = None) -> Iterator[Any]:
        try:
            yield from super().run_iter(timeout=timeout)  # type: ignore[misc]
        except BaseException as exc:
            self.last_error = exc
            raise


class SerialEngine(_RecordsErrors, action_engine.SerialActionEngine):
    """TaskFlow's serial engine, remembering the exception that ended a run."""


class ParallelEngine(_RecordsErrors, action_engine.ParallelActionEngine):
    """TaskFlow's parallel engine, remembering the exception that ended a run."""
