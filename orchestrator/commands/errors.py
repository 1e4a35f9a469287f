from __future__ import annotations

from orchestrator.errors import InvalidRequest, OrchestratorError


class UnknownCommand(InvalidRequest):
    """No installed extension provides that command."""


class CommandFailed(OrchestratorError):
    """An extension command failed; the flow reverts."""
