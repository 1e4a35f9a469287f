"""Extension commands: IPA 13's command machinery, discovered from entry points.

An extension is a ``BaseAgentExtension`` whose methods carry ``@sync_command`` or
``@async_command``; it is registered in the ``orchestrator.extensions`` entry-point
group and run as ``'<extension>.<command>'`` by an ``ExecuteCommandMixin``. Code
written for ironic-python-agent ports by changing its imports: the modules
``ironic_python_agent.extensions.base``, ``ironic_python_agent.errors`` and
``ironic_python_agent.encoding`` are ``orchestrator.extensions.base``, ``.errors``
and ``.encoding`` here.
"""

from orchestrator.extensions.base import (
    DEFAULT_MAX_COMMAND_RESULTS,
    NAMESPACE,
    AgentCommandStatus,
    AsyncCommandResult,
    BaseAgentExtension,
    BaseCommandResult,
    ExecuteCommandMixin,
    SyncCommandResult,
    async_command,
    get_extension,
    init_ext_manager,
    make_ext_manager,
    sync_command,
)
from orchestrator.extensions.encoding import json_safe
from orchestrator.extensions.errors import (
    AgentIsBusy,
    CommandExecutionError,
    ExtensionError,
    InvalidCommandError,
    InvalidCommandParamsError,
    InvalidContentError,
    RequestedObjectNotFoundError,
    RESTError,
    serialize_error,
)

__all__ = [
    "DEFAULT_MAX_COMMAND_RESULTS",
    "NAMESPACE",
    "AgentCommandStatus",
    "AgentIsBusy",
    "AsyncCommandResult",
    "BaseAgentExtension",
    "BaseCommandResult",
    "CommandExecutionError",
    "ExecuteCommandMixin",
    "ExtensionError",
    "InvalidCommandError",
    "InvalidCommandParamsError",
    "InvalidContentError",
    "RESTError",
    "RequestedObjectNotFoundError",
    "SyncCommandResult",
    "async_command",
    "get_extension",
    "init_ext_manager",
    "json_safe",
    "make_ext_manager",
    "serialize_error",
    "sync_command",
]
