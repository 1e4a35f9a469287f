"""What extension commands are installed, read from the extension classes.

Flows are validated and built where they are posted and where they run, so
both know every command's name and its compensating command without running
anything; the commands themselves may run on a remote agent.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stevedore import extension

from orchestrator.commands.errors import UnknownCommand

LOG = logging.getLogger(__name__)

NAMESPACE = "orchestrator.extensions"


@dataclass(frozen=True)
class CommandInfo:
    extension: str
    name: str
    revert: str | None
    doc: str
    #: Parameters as the command's signature gives them: ``node``, ``duration=60``.
    params: tuple[str, ...] = ()

    @property
    def full_name(self) -> str:
        return f"{self.extension}.{self.name}"


class CommandCatalog:
    """Extension name -> command name -> CommandInfo."""

    def __init__(self, extensions: Mapping[str, type]) -> None:
        self._commands: dict[str, dict[str, CommandInfo]] = {}
        for ext_name, cls in extensions.items():
            commands = {}
            for attr in dir(cls):
                member = getattr(cls, attr, None)
                name = getattr(member, "command_name", None)
                if isinstance(name, str):
                    doc = (getattr(member, "__doc__", None) or "").strip().splitlines()
                    commands[name] = CommandInfo(ext_name, name,
                                                 getattr(member, "command_revert", None),
                                                 doc[0] if doc else "", _params(member))
            self._commands[ext_name] = commands

    @classmethod
    def from_entry_points(cls, namespace: str = NAMESPACE) -> CommandCatalog:
        return cls(_installed_extension_classes(namespace))

    @classmethod
    @functools.cache
    def installed(cls) -> CommandCatalog:
        """The catalog of the installed extensions, read once per process (and
        again after ``forget_installed``)."""
        return cls.from_entry_points()

    def names(self) -> list[str]:
        return sorted(info.full_name for cmds in self._commands.values()
                      for info in cmds.values())

    def get(self, command: str) -> CommandInfo:
        ext_name, _, cmd_name = command.partition(".")
        if not cmd_name:
            raise UnknownCommand(f"command {command!r} is not of the form extension.command")
        if ext_name not in self._commands:
            known = ", ".join(sorted(self._commands)) or "none are installed"
            raise UnknownCommand(f"unknown extension {ext_name!r} in {command!r}; "
                                 f"installed extensions: {known}")
        try:
            return self._commands[ext_name][cmd_name]
        except KeyError:
            known = ", ".join(sorted(self._commands[ext_name])) or "none"
            raise UnknownCommand(f"extension {ext_name!r} has no command {cmd_name!r}; "
                                 f"its commands: {known}") from None

    def __iter__(self) -> Iterator[CommandInfo]:
        return iter([i for cmds in self._commands.values() for i in cmds.values()])


def _params(method: Any) -> tuple[str, ...]:
    try:
        signature = inspect.signature(method)
    except (TypeError, ValueError):
        return ()
    shown = []
    for param in signature.parameters.values():
        if param.name == "self":
            continue
        if param.kind is param.VAR_KEYWORD:
            shown.append(f"**{param.name}")
        elif param.kind is param.VAR_POSITIONAL:
            shown.append(f"*{param.name}")
        elif param.default is param.empty:
            shown.append(param.name)
        else:
            shown.append(f"{param.name}={param.default!r}")
    return tuple(shown)


@functools.cache
def _installed_extension_classes(namespace: str) -> dict[str, type]:
    classes: dict[str, type] = {}

    def _on_failure(_mgr: Any, entry_point: Any, err: BaseException) -> None:
        LOG.error("Extension %s could not be loaded: %s", getattr(entry_point, "name", "?"),
                  err)

    mgr: extension.ExtensionManager[Any] = extension.ExtensionManager(
        namespace, invoke_on_load=False, on_load_failure_callback=_on_failure)
    for ext in mgr:
        classes[ext.name] = ext.plugin
    return classes


def forget_installed() -> None:
    """Read the installed extensions again at the next look (see orchestrator.plugins)."""
    CommandCatalog.installed.cache_clear()
    _installed_extension_classes.cache_clear()
