"""TaskFlow engines that remember what ended a run.

TaskFlow's conductor catches whatever a run raises and only logs it; a failure
outside any task (a result the database refuses, a storage error) then leaves
no trace in the flow's state. These engines keep the exception, so the job
record can say why the job failed. They are loaded through TaskFlow's own
engine seam: ``engines.load(..., namespace=NAMESPACE)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from taskflow.engines.action_engine import engine as action_engine

NAMESPACE = "orchestrator.engines"


class _RecordsErrors:
    last_error: BaseException | None = None

    def _recording(self, method: Any, *args: Any) -> Any:
        try:
            return method(*args)
        except BaseException as exc:
            self.last_error = exc
            raise

    def compile(self) -> Any:
        return self._recording(super().compile)  # type: ignore[misc]

    def prepare(self) -> Any:
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
