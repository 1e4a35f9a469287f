"""Extension commands as TaskFlow tasks.

One generic task type, ``CommandTask``, runs any ``ext.cmd`` either in the
conductor's process (extensions loaded there) or on a remote ``orchestrator
agent`` over its IPA-compatible HTTP API, the way Ironic's conductor drives IPA.
"""

from typing import TYPE_CHECKING

from persistence.lazy import lazy_exports

if TYPE_CHECKING:
    from orchestrator.commands.catalog import CommandCatalog, CommandInfo
    from orchestrator.commands.errors import CommandFailed, UnknownCommand
    from orchestrator.commands.runner import RunnerSettings, configure, runner_settings
    from orchestrator.commands.task import CommandTask

# Names are imported on first use: listing the commands needs the catalog,
# not TaskFlow (which CommandTask pulls in).
__getattr__, __dir__ = lazy_exports(globals(), {
    "CommandCatalog": "orchestrator.commands.catalog",
    "CommandInfo": "orchestrator.commands.catalog",
    "CommandFailed": "orchestrator.commands.errors",
    "UnknownCommand": "orchestrator.commands.errors",
    "RunnerSettings": "orchestrator.commands.runner",
    "configure": "orchestrator.commands.runner",
    "runner_settings": "orchestrator.commands.runner",
    "CommandTask": "orchestrator.commands.task",
})

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
