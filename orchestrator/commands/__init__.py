"""Extension commands as TaskFlow tasks.

One generic task type, ``CommandTask``, runs any ``ext.cmd`` either in the
conductor's process (extensions loaded there) or on a remote ``orchestrator
agent`` over its IPA-compatible HTTP API, the way Ironic's conductor drives IPA.
"""

from orchestrator.commands.catalog import CommandCatalog, CommandInfo
from orchestrator.commands.errors import CommandFailed, UnknownCommand
from orchestrator.commands.runner import RunnerSettings, configure, runner_settings
from orchestrator.commands.task import CommandTask

__all__ = [
    "CommandCatalog",
    "CommandFailed",
    "CommandInfo",
    "CommandTask",
    "RunnerSettings",
    "UnknownCommand",
    "configure",
    "runner_settings",
]
