"""Errors of the agent package.

``AgentClientError`` and its subclasses are what a conductor sees when a call to
an agent goes wrong; ``AgentListenError`` is the agent daemon failing to start.
"""

from __future__ import annotations

from orchestrator.errors import OrchestratorError


class AgentClientError(OrchestratorError):
    """A call to a command agent failed."""


class AgentUnreachable(AgentClientError):
    """The agent could not be reached (refused, unresolvable or no answer to connect)."""

    retryable = True  # the agent may be starting or restarting

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"agent at {url} is unreachable: {reason}")
        self.url = url
        self.reason = reason


class AgentTimeout(AgentClientError):
    """The agent did not answer, or the command did not finish, in the time allowed."""

    # The command may still be running on the agent: asking again later can help,
    # running it again may not (it could run twice).
    retryable = True

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


class AgentError(AgentClientError):
    """The agent answered with a fault (``{"faultcode", "faultstring"}``)."""

    def __init__(self, url: str, status_code: int, faultstring: str,
                 faultcode: str | None = None) -> None:
        super().__init__(f"agent at {url} answered {status_code}: {faultstring}")
        self.url = url
        self.status_code = status_code
        self.faultstring = faultstring
        self.faultcode = faultcode or ("Server" if status_code >= 500 else "Client")
        # 409: the agent is busy with another command; 5xx: it may recover.
        self.retryable = status_code == 409 or status_code >= 500
        # Our request was wrong (unknown extension or command, bad params, token).
        self.client_error = 400 <= status_code < 500 and status_code != 409


class AgentListenError(OrchestratorError):
    """The agent cannot listen on its address (port in use, address not local)."""

    retryable = True  # the port may be free again later

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"agent cannot listen on {host}:{port}: {reason}")
        self.host = host
        self.port = port


__all__ = ["AgentClientError", "AgentError", "AgentListenError", "AgentTimeout",
           "AgentUnreachable"]
