"""``CommandTask``: one TaskFlow task type for every extension command."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from taskflow import task
from taskflow.types import failure

from orchestrator.commands import runner

LOG = logging.getLogger(__name__)

#: Store key naming the agent a remote step runs on (rebind it per step).
AGENT_URL = "agent_url"

#: Progress is a database write in TaskFlow; report waiting no more often than this.
_PROGRESS_EVERY = 5.0


class CommandTask(task.Task):
    """Run ``command`` (``ext.cmd``) with fixed params and inputs from the store.

    Its result is provided under ``provides``. On revert it runs the command's
    compensating command (declared with ``revert=`` on the decorator) with the
    same params plus ``result``; with none, the revert result records that
    nothing was undone.
    """

    def __init__(
        self,
        name: str,
        command: str,
        *,
        params: Mapping[str, Any] | None = None,
        inputs: Sequence[str] = (),
        rebind: Mapping[str, str] | None = None,
        provides: str | None = None,
        revert_command: str | None = None,
        remote: bool = False,
        timeout: float | None = None,
    ) -> None:
        requires = list(inputs) + ([AGENT_URL] if remote else [])
        super().__init__(name=name, provides=provides, requires=requires,
                         rebind=dict(rebind or {}))
        self.command = command
        self.fixed_params = dict(params or {})
        self.revert_command = revert_command
        self.remote = remote
        self.timeout = timeout
        self._last_progress = 0.0

    def _run(self, command: str, arguments: dict[str, Any], extra: Mapping[str, Any]) -> Any:
        agent_url = arguments.pop(AGENT_URL, None) if self.remote else None
        params = {**self.fixed_params, **arguments, **extra}
        if agent_url is not None:
            LOG.info("%s: running %s on agent %s", self.name, command, agent_url)
            return runner.run_remote(str(agent_url), command, params, timeout=self.timeout,
                                     on_progress=self._progress)
        LOG.info("%s: running %s", self.name, command)
        return runner.run_local(command, params, timeout=self.timeout,
                                on_progress=self._progress)

    def _progress(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._last_progress >= _PROGRESS_EVERY:
            self._last_progress = now
            self.update_progress(fraction)

    def execute(self, **arguments: Any) -> Any:
        return self._run(self.command, arguments, {})

    def revert(self, result: Any, flow_failures: Any = None, **arguments: Any) -> Any:
        if isinstance(result, failure.Failure):
            return {"undone": False, "reason": f"{self.command} itself failed"}
        if not self.revert_command:
            LOG.info("%s: %s declares no compensating command; nothing undone",
                     self.name, self.command)
            return {"undone": False,
                    "reason": f"{self.command} declares no compensating command"}
        undo = self._run(self.revert_command, arguments, {"result": result})
        return {"undone": True, "command": self.revert_command, "result": undo}
