"""The command agent: IPA's HTTP command API, served by ``orchestrator agent``.

``CommandAgent`` runs extension commands and keeps their results, ``create_app``
serves it over HTTP as ironic-python-agent does, and ``AgentClient`` is how a
conductor runs a command on a remote agent.
"""

from orchestrator.agent.client import AgentClient
from orchestrator.agent.errors import (
    AgentClientError,
    AgentError,
    AgentListenError,
    AgentTimeout,
    AgentUnreachable,
)
from orchestrator.agent.service import CommandAgent

__all__ = [
    "AgentClient",
    "AgentClientError",
    "AgentError",
    "AgentListenError",
    "AgentTimeout",
    "AgentUnreachable",
    "CommandAgent",
]
