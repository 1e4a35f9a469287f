"""Extension commands: IPA 13's ``ironic_python_agent.extensions.base``, by name.

An extension written for ironic-python-agent runs here once its imports point at
``orchestrator.extensions``. What differs from IPA, on purpose:

* ``revert=`` on the decorators names the command that undoes this one (for the
  generic TaskFlow task's revert); ``revert_command_for`` looks it up.
* ``ExecuteCommandMixin`` takes its extension manager and a bound on the results
  history as arguments (IPA: a module global and an unbounded history).
* A ``KeyError`` raised by a command is a failed command, not "Extension not found".
* Results always serialize to JSON-encodable data (see ``results``).
"""

from __future__ import annotations

import collections
import functools
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any

from stevedore import extension

from orchestrator.extensions import errors
from orchestrator.extensions.encoding import remove_large_keys
from orchestrator.extensions.results import (
    AgentCommandStatus,
    AsyncCommandResult,
    BaseCommandResult,
    SyncCommandResult,
)

__all__ = [
    "DEFAULT_MAX_COMMAND_RESULTS",
    "NAMESPACE",
    "AgentCommandStatus",
    "AsyncCommandResult",
    "BaseAgentExtension",
    "BaseCommandResult",
    "ExecuteCommandMixin",
    "SyncCommandResult",
    "async_command",
    "get_extension",
    "init_ext_manager",
    "make_ext_manager",
    "sync_command",
]

LOG = logging.getLogger(__name__)

#: The entry-point group extensions are discovered from.
NAMESPACE = "orchestrator.extensions"
#: How many command results an ExecuteCommandMixin keeps by default.
DEFAULT_MAX_COMMAND_RESULTS = 1000

#: ``validator(extension, **params)``: raises to refuse the call, returns otherwise.
Validator = Callable[..., object]


class BaseAgentExtension:
    """Base class of extensions: commands are methods decorated with *_command."""

    # Set by ExecuteCommandMixin.get_extension, as in IPA.
    ext_mgr: extension.ExtensionManager[Any] | None = None

    def __init__(self, agent: Any = None) -> None:
        super().__init__()
        self.agent = agent
        # Built once: command name -> bound method (IPA).
        self.command_map: dict[str, Callable[..., BaseCommandResult]] = {
            v.command_name: v
            for _, v in inspect.getmembers(self)
            if callable(v) and isinstance(getattr(v, "command_name", None), str)
        }
        for name, method in self.command_map.items():
            revert = getattr(method, "command_revert", None)
            if revert is not None and revert not in self.command_map:
                raise errors.ExtensionError(
                    f"command {name!r} of {type(self).__name__} declares "
                    f"revert={revert!r}, which is not a command of this extension"
                )

    def execute(self, command_name: str, **kwargs: Any) -> BaseCommandResult:
        """Run the command called ``command_name`` with keyword arguments only."""
        cmd = self.command_map.get(command_name)
        if cmd is None:
            raise errors.InvalidCommandError(f"Unknown command: {command_name}")
        return cmd(**kwargs)

    def revert_command_for(self, command_name: str) -> str | None:
        """The command of this extension that undoes ``command_name``, if declared.

        It is to be called with the original params plus ``result=`` the original
        ``command_result``. Unknown command -> ``InvalidCommandError``.
        """
        cmd = self.command_map.get(command_name)
        if cmd is None:
            raise errors.InvalidCommandError(f"Unknown command: {command_name}")
        revert: str | None = getattr(cmd, "command_revert", None)
        return revert

    def check_cmd_presence(self, ext_obj: Any, ext: str, cmd: str) -> None:
        """Raise InvalidCommandParamsError unless ``ext_obj`` provides ``cmd`` (IPA)."""
        if not (
            hasattr(ext_obj, "execute")
            and hasattr(ext_obj, "command_map")
            and cmd in ext_obj.command_map
        ):
            raise errors.InvalidCommandParamsError(f"Extension {ext} doesn't provide {cmd} method")


class ExecuteCommandMixin:
    """Runs ``'<extension>.<command>'`` one at a time and keeps their results.

    ``ext_mgr``: the stevedore manager to find extensions in (build it with
    ``make_ext_manager`` at the composition root). ``max_command_results``: how
    many results ``command_results`` keeps (None: unbounded, as IPA); the oldest
    finished ones are dropped first and a RUNNING one is never dropped.
    """

    def __init__(
        self,
        ext_mgr: extension.ExtensionManager[Any] | None = None,
        max_command_results: int | None = DEFAULT_MAX_COMMAND_RESULTS,
    ) -> None:
        if max_command_results is not None and max_command_results < 1:
            raise ValueError(f"max_command_results must be >= 1, not {max_command_results}")
        self.command_lock = threading.Lock()
        self.command_results: collections.OrderedDict[str, BaseCommandResult] = (
            collections.OrderedDict()
        )
        self.ext_mgr = ext_mgr
        self.command_results_limit = max_command_results
        # Separate from command_lock, which a synchronous command holds while it
        # runs: listing results must not wait for that.
        self._results_lock = threading.Lock()

    def get_extension(self, extension_name: str) -> Any:
        """The extension object named ``extension_name``; KeyError if there is none."""
        if self.ext_mgr is None:
            raise errors.ExtensionError("Extension manager is not initialized")
        ext: Any = self.ext_mgr[extension_name].obj
        ext.ext_mgr = self.ext_mgr
        return ext

    def split_command(self, command_name: str) -> tuple[str, str]:
        """``'ext.cmd.x'`` -> ``('ext', 'cmd.x')``; no dot -> InvalidCommandError."""
        command_parts = command_name.split(".", 1)
        if len(command_parts) != 2:
            raise errors.InvalidCommandError("Command name must be of the form <extension>.<name>")
        return command_parts[0], command_parts[1]

    def execute_command(self, command_name: str, **kwargs: Any) -> BaseCommandResult:
        """Execute an agent command and store its result.

        Raises InvalidCommandError (bad name), AgentIsBusy (the last command is
        still running), RequestedObjectNotFoundError (no such extension) and any
        other InvalidContentError; every other failure is a FAILED result.
        """
        with self.command_lock:
            LOG.debug(
                "Executing command: %s with args: %s", command_name, remove_large_keys(kwargs)
            )
            extension_part, command_part = self.split_command(command_name)
            last_command = self._last_result()
            if last_command is not None and not last_command.is_done():
                LOG.error(
                    "Tried to execute %s, agent is still executing %s", command_name, last_command
                )
                raise errors.AgentIsBusy(last_command.command_name)
            result = self._run(command_name, extension_part, command_part, kwargs)
            self._store(result)
            return result

    def list_command_results(self) -> list[BaseCommandResult]:
        """The stored results, oldest first (a copy, safe while commands run)."""
        with self._results_lock:
            return list(self.command_results.values())

    def get_command_result(self, result_id: str) -> BaseCommandResult:
        """The stored result ``result_id``; RequestedObjectNotFoundError if unknown."""
        with self._results_lock:
            try:
                return self.command_results[result_id]
            except KeyError:
                raise errors.RequestedObjectNotFoundError("Command Result", result_id) from None

    def _run(
        self, command_name: str, extension_part: str, command_part: str, kwargs: dict[str, Any]
    ) -> BaseCommandResult:
        # The extension lookup and the command run are separate steps so that a
        # KeyError raised by the command itself is not taken for a missing extension.
        try:
            ext = self.get_extension(extension_part)
        except KeyError:
            LOG.error("Extension %s not found", extension_part)
            raise errors.RequestedObjectNotFoundError("Extension", extension_part) from None
        except errors.InvalidContentError:
            raise
        except Exception as exc:
            LOG.exception("Command execution error: %s", exc)
            return SyncCommandResult(command_name, kwargs, False, exc)
        try:
            result: BaseCommandResult = ext.execute(command_part, **kwargs)
        except errors.InvalidContentError as exc:
            # Returned to the caller directly (a 400), as IPA does.
            LOG.error("Invalid content error: %s", exc)
            raise
        except Exception as exc:
            LOG.exception("Command execution error: %s", exc)
            return SyncCommandResult(command_name, kwargs, False, exc)
        return result

    def _last_result(self) -> BaseCommandResult | None:
        with self._results_lock:
            return next(reversed(self.command_results.values()), None)

    def _store(self, result: BaseCommandResult) -> None:
        with self._results_lock:
            self.command_results[result.id] = result
            limit = self.command_results_limit
            excess = 0 if limit is None else len(self.command_results) - limit
            if excess <= 0:
                return
            victims: list[str] = []
            for result_id, old in self.command_results.items():
                if len(victims) == excess or old is result:
                    break
                if old.is_done():
                    victims.append(result_id)
            for result_id in victims:
                del self.command_results[result_id]


def _mark(func: Callable[..., Any], command_name: str, revert: str | None) -> None:
    if revert is not None and not isinstance(revert, str):
        raise TypeError(f"revert must name a command of the same extension, not {revert!r}")
    # functools.wraps copies these onto the wrapper, where BaseAgentExtension finds them.
    func.command_name = command_name  # type: ignore[attr-defined]
    func.command_revert = revert  # type: ignore[attr-defined]


def async_command(
    command_name: str, validator: Validator | None = None, revert: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., AsyncCommandResult]]:
    """Will run the command in an AsyncCommandResult in its own thread.

    ``validator(self, **params)`` runs first, in the caller's thread; its exception
    propagates and no result is created. A ``str``/``bytes`` return value becomes
    ``{'result': '<command_name>: <value>'}``. ``revert`` names the command of the
    same extension that undoes this one; it is called with this command's params
    plus ``result=`` this command's ``command_result``.
    """

    def async_decorator(func: Callable[..., Any]) -> Callable[..., AsyncCommandResult]:
        _mark(func, command_name, revert)

        @functools.wraps(func)
        def wrapper(self: Any, **command_params: Any) -> AsyncCommandResult:
            if validator:
                validator(self, **command_params)
            # Bound here so that AsyncCommandResult need not know about extensions.
            bound_func = functools.partial(func, self)
            ret = AsyncCommandResult(
                command_name, command_params, bound_func, agent=self.agent
            ).start()
            LOG.info("Asynchronous command %s started execution", command_name)
            return ret

        return wrapper

    return async_decorator


def sync_command(
    command_name: str, validator: Validator | None = None, revert: str | None = None
) -> Callable[[Callable[..., Any]], Callable[..., SyncCommandResult]]:
    """Decorate a method to wrap its return value in a SyncCommandResult.

    ``validator(self, **params)`` runs first; its exception propagates, as does the
    body's. A ``str``/``bytes`` return value becomes ``{'result': value}``.
    ``revert`` names the command of the same extension that undoes this one; it is
    called with this command's params plus ``result=`` this command's
    ``command_result``.
    """

    def sync_decorator(func: Callable[..., Any]) -> Callable[..., SyncCommandResult]:
        _mark(func, command_name, revert)

        @functools.wraps(func)
        def wrapper(self: Any, **command_params: Any) -> SyncCommandResult:
            if validator:
                validator(self, **command_params)
            result = func(self, **command_params)
            LOG.info(
                "Synchronous command %s completed: %s", command_name, remove_large_keys(result)
            )
            return SyncCommandResult(command_name, command_params, True, result)

        return wrapper

    return sync_decorator


def make_ext_manager(
    agent: Any = None, namespace: str = NAMESPACE
) -> extension.ExtensionManager[Any]:
    """Load every extension of ``namespace``, each built as ``Class(agent=agent)``.

    The composition root calls this and passes the manager on; nothing is global.
    """
    return extension.ExtensionManager(
        namespace=namespace,
        invoke_on_load=True,
        propagate_map_exceptions=True,
        invoke_kwds={"agent": agent},
    )


# IPA compatibility only: code ported from IPA calls these two module functions.
_EXT_MANAGER: extension.ExtensionManager[Any] | None = None


def init_ext_manager(agent: Any) -> extension.ExtensionManager[Any]:
    """Build the module-wide manager (IPA's shim; prefer ``make_ext_manager``)."""
    global _EXT_MANAGER
    _EXT_MANAGER = make_ext_manager(agent)
    return _EXT_MANAGER


def get_extension(name: str) -> Any:
    """The extension ``name`` from the module-wide manager (IPA's shim)."""
    if _EXT_MANAGER is None:
        raise errors.ExtensionError("Extension manager is not initialized")
    ext: Any = _EXT_MANAGER[name].obj
    ext.ext_mgr = _EXT_MANAGER
    return ext
