"""Running one extension command, in this process or on a remote agent.

TaskFlow rebuilds tasks from a flow factory that takes no arguments, so a task
cannot be handed its dependencies; it finds them here at run time. The
conductor (the composition root) calls ``configure`` once at start-up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stevedore import extension

from orchestrator.commands.catalog import NAMESPACE
from orchestrator.commands.errors import CommandFailed

LOG = logging.getLogger(__name__)

Progress = Callable[[float], None]


@dataclass(frozen=True)
class RunnerSettings:
    agent_token: str | None = None
    http_timeout: float = 30.0
    command_timeout: float = 600.0
    poll_interval: float = 1.0


_lock = threading.Lock()
_settings = RunnerSettings()
_extensions: Mapping[str, Any] | None = None
_configured_extensions = False


def configure(settings: RunnerSettings, extensions: Mapping[str, Any] | None = None) -> None:
    """Set how commands run; ``extensions`` (name -> instance) replaces entry points."""
    global _settings, _extensions, _configured_extensions
    with _lock:
        _settings = settings
        if extensions is not None:
            _extensions = dict(extensions)
            _configured_extensions = True


def forget_installed() -> None:
    """Load the installed extensions again when a command next runs, unless they
    were handed to ``configure``."""
    global _extensions
    with _lock:
        if not _configured_extensions:
            _extensions = None


def runner_settings() -> RunnerSettings:
    return _settings


def _loaded_extensions() -> Mapping[str, Any]:
    global _extensions
    with _lock:
        if _extensions is None:
            manager: extension.ExtensionManager[Any] = extension.ExtensionManager(
                NAMESPACE, invoke_on_load=True, invoke_kwds={"agent": None},
                propagate_map_exceptions=True)
            _extensions = {ext.name: ext.obj for ext in manager}
        return _extensions


def _error_text(command: str, error: Any) -> str:
    if isinstance(error, Mapping):
        # IPA's error shape: 'message' is the class's generic text, 'details' the cause.
        parts = [str(p) for p in (error.get("message"), error.get("details")) if p]
        kind = error.get("type")
        return f"{command} failed: {kind + ': ' if kind else ''}{': '.join(parts) or error}"
    return f"{command} failed: {error}"


def run_local(command: str, params: Mapping[str, Any], *, timeout: float | None = None,
              on_progress: Progress | None = None) -> Any:
    """Run ``ext.cmd`` on the extensions loaded in this process; return its result."""
    ext_name, _, cmd_name = command.partition(".")
    ext = _loaded_extensions().get(ext_name)
    if ext is None:
        raise CommandFailed(f"extension {ext_name!r} is not installed here")
    try:
        result = ext.execute(cmd_name, **params)
    except Exception as exc:
        # Not chained: TaskFlow persists a failure's causes with their arguments,
        # and PostgreSQL refuses any that are not JSON (the message keeps the cause).
        raise CommandFailed(f"{command} failed: {type(exc).__name__}: {exc}") from None
    settings = runner_settings()
    limit = settings.command_timeout if timeout is None else timeout
    started = time.monotonic()
    while not result.is_done():
        elapsed = time.monotonic() - started
        if elapsed >= limit:
            raise CommandFailed(f"{command} did not finish within {limit:g}s")
        result.join(timeout=min(settings.poll_interval, limit - elapsed))
        if on_progress is not None:
            on_progress(min((time.monotonic() - started) / limit, 0.99))
    if result.command_error is not None:
        error = result.command_error
        serialize = getattr(error, "serialize", None)
        raise CommandFailed(_error_text(command, serialize() if serialize else error))
    return result.command_result


def run_remote(agent_url: str, command: str, params: Mapping[str, Any], *,
               timeout: float | None = None, on_progress: Progress | None = None) -> Any:
    """Run ``ext.cmd`` on the agent at ``agent_url``; return its result."""
    # Imported here: the HTTP client is needed only by flows that use agents.
    from orchestrator.agent.client import AgentClient
    from orchestrator.agent.errors import AgentClientError

    settings = runner_settings()
    limit = settings.command_timeout if timeout is None else timeout
    started = time.monotonic()

    def _poll(_latest: Any) -> None:
        if on_progress is not None:
            on_progress(min((time.monotonic() - started) / limit, 0.99))

    try:
        with AgentClient(agent_url, settings.agent_token, settings.http_timeout) as client:
            outcome = client.execute(command, dict(params), wait=False)
            if outcome.get("command_status") == "RUNNING":
                outcome = client.wait_for(outcome["id"], timeout=limit,
                                          poll_interval=settings.poll_interval,
                                          on_poll=_poll)
    except AgentClientError as exc:
        # Not chained, as in run_local: the transport error's arguments are not JSON.
        raise CommandFailed(f"{command} on agent {agent_url}: {exc}") from None
    if outcome.get("command_status") != "SUCCEEDED":
        raise CommandFailed(_error_text(command, outcome.get("command_error")))
    return outcome.get("command_result")
