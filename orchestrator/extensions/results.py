"""Command results: what running an extension command returns and the API lists.

The classes and their behaviour are IPA 13's (``ironic_python_agent.extensions.
base``); ``orchestrator.extensions.base`` re-exports them under the same names.
Unlike IPA, ``serialize()`` always returns JSON-encodable data: a failed command's
exception becomes the REST error shape and an odd result value a marker string.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Self

from orchestrator.extensions import errors
from orchestrator.extensions.encoding import SerializableComparable, json_safe, remove_large_keys

LOG = logging.getLogger(__name__)


class AgentCommandStatus:
    """Mapping of agent command statuses."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    # IPA 13 kept the old text for backward compatibility with ironic.
    VERSION_MISMATCH = "CLEAN_VERSION_MISMATCH"
    CLEAN_VERSION_MISMATCH = VERSION_MISMATCH  # the attribute's name before IPA 13


class BaseCommandResult(SerializableComparable):
    """Base class for command result."""

    serializable_fields = (
        "id",
        "command_name",
        "command_status",
        "command_error",
        "command_result",
    )

    def __init__(self, command_name: str, command_params: Mapping[str, Any]) -> None:
        self.id = str(uuid.uuid4())
        self.command_name = command_name
        # Kept for the command's own use (and revert), never serialized (as IPA).
        self.command_params = command_params
        self.command_status = AgentCommandStatus.RUNNING
        self.command_error: Any = None
        self.command_result: Any = None

    def __str__(self) -> str:
        return (
            f"Command name: {self.command_name}, "
            f"params: {remove_large_keys(self.command_params)}, "
            f"status: {self.command_status}, "
            f"result: {remove_large_keys(self.command_result)}."
        )

    def serialize(self) -> dict[str, Any]:
        """``id, command_name, command_status, command_error, command_result``.

        Always JSON-encodable: an exception becomes ``{type, code, message,
        details}`` (a non-REST one as a CommandExecutionError), any other value
        JSON cannot hold a marker string (see ``encoding.json_safe``).
        """
        error = self.command_error
        data: dict[str, Any] = json_safe(
            {
                "id": self.id,
                "command_name": self.command_name,
                "command_status": self.command_status,
                "command_error": None if error is None else errors.serialize_error(error),
                "command_result": self.command_result,
            }
        )
        return data

    def is_done(self) -> bool:
        """Checks to see if command is still RUNNING."""
        return self.command_status != AgentCommandStatus.RUNNING

    def join(self, timeout: float | None = None) -> Self:
        """Block until the command has completed (at most ``timeout`` s); return self."""
        return self

    def wait(self, timeout: float | None = None) -> Any:
        """Join the result and return its value; raise the error if the command failed.

        With a ``timeout`` that expires first, raises ``TimeoutError``.
        """
        self.join(timeout)
        if not self.is_done():
            raise TimeoutError(f"command {self.command_name} still running after {timeout}s")
        error = self.command_error
        if error is None:
            return self.command_result
        if isinstance(error, BaseException):
            raise error
        # SyncCommandResult(..., False, 'text') stores {'error': 'text'}; IPA's
        # ``raise`` of that dict would be a TypeError.
        text = error.get("error", error) if isinstance(error, Mapping) else error
        raise errors.CommandExecutionError(str(text))


class SyncCommandResult(BaseCommandResult):
    """A result from a command that executes synchronously."""

    def __init__(
        self,
        command_name: str,
        command_params: Mapping[str, Any],
        success: bool,
        result_or_error: Any,
    ) -> None:
        super().__init__(command_name, command_params)
        if isinstance(result_or_error, (bytes, str)):
            result_or_error = {"result" if success else "error": result_or_error}
        if success:
            self.command_status = AgentCommandStatus.SUCCEEDED
            self.command_result = result_or_error
        else:
            self.command_status = AgentCommandStatus.FAILED
            self.command_error = result_or_error


class AsyncCommandResult(BaseCommandResult):
    """A command that executes asynchronously in the background."""

    def __init__(
        self,
        command_name: str,
        command_params: Mapping[str, Any],
        execute_method: Callable[..., Any],
        agent: Any = None,
    ) -> None:
        super().__init__(command_name, command_params)
        self.agent = agent
        self.execute_method = execute_method
        # Status, result and error change together, from the command's thread.
        self.command_state_lock = threading.Lock()
        self.execution_thread = threading.Thread(
            target=self.run, name=f"agent-command-{self.id}"
        )

    def serialize(self) -> dict[str, Any]:
        with self.command_state_lock:
            return super().serialize()

    def start(self) -> Self:
        """Begin background execution of command."""
        self.execution_thread.start()
        return self

    def join(self, timeout: float | None = None) -> Self:
        self.execution_thread.join(timeout)
        return self

    def is_done(self) -> bool:
        with self.command_state_lock:
            return super().is_done()

    def run(self) -> None:
        """Run the command (in the execution thread) and record how it ended."""
        try:
            result = self.execute_method(**self.command_params)
            if isinstance(result, (bytes, str)):
                result = {"result": f"{self.command_name}: {result!s}"}
            LOG.info(
                "Asynchronous command %s completed: %s",
                self.command_name,
                remove_large_keys(result),
            )
            with self.command_state_lock:
                self.command_result = result
                self.command_status = AgentCommandStatus.SUCCEEDED
        except errors.VersionMismatch as exc:
            LOG.error("Version mismatch for command %s", self.command_name)
            with self.command_state_lock:
                self.command_error = exc
                self.command_status = AgentCommandStatus.VERSION_MISMATCH
                self.command_result = None
        except BaseException as exc:
            LOG.exception("Command failed: %s, error: %s", self.command_name, exc)
            self._fail(exc)
            if not isinstance(exc, Exception):
                # SystemExit and the like still end the thread, but a command that
                # stays RUNNING forever would keep the agent busy forever.
                raise
        finally:
            self._heartbeat()

    def _fail(self, exc: BaseException) -> None:
        error = exc
        if not isinstance(exc, errors.RESTError):
            error = errors.CommandExecutionError(errors.describe_error(exc))
            error.__cause__ = exc  # keep the original for whoever re-raises it
        with self.command_state_lock:
            self.command_error = error
            self.command_status = AgentCommandStatus.FAILED

    def _heartbeat(self) -> None:
        if self.agent is None:
            return
        try:
            self.agent.force_heartbeat()
        except Exception:  # the command's outcome is recorded; only log this
            LOG.exception("force_heartbeat failed after command %s", self.command_name)

