"""HTTP client of the agent's command API, used by conductors as Ironic's drives IPA.

Every call maps transport problems to one of three errors (all ``AgentClientError``):
``AgentUnreachable`` (nothing answered the connection), ``AgentTimeout`` (no answer
in time, or a command still running at the deadline) and ``AgentError`` (the agent
answered with a fault body).
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from orchestrator.agent.errors import AgentError, AgentTimeout, AgentUnreachable

LOG = logging.getLogger(__name__)

RUNNING = "RUNNING"
COMMANDS_PATH = "/v1/commands/"
STATUS_PATH = "/v1/status"

OnPoll = Callable[[dict[str, Any]], None]


class AgentClient:
    """Talks to one agent at ``base_url`` (``http://host:port``).

    ``timeout`` bounds each HTTP call (connecting included). The token is sent as
    ``?agent_token=``, as Ironic does. Use as a context manager, or call
    ``close()``, to release the connection pool.
    """

    def __init__(self, base_url: str, token: str | None, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token = token
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def __enter__(self) -> AgentClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def execute(self, command: str, params: dict[str, Any], wait: bool = True, *,
                timeout: float | None = None) -> dict[str, Any]:
        """Run ``ext.cmd`` on the agent; return its serialized result.

        With ``wait`` the agent answers once the command has finished, so the
        call may last as long as the command: pass ``timeout`` to allow more
        than the per-call timeout. Without it an asynchronous command comes
        back RUNNING; follow it with ``wait_for``. A failed command is a
        result (``command_status`` FAILED), not an exception.
        """
        query = {"wait": "true" if wait else "false"}
        response = self._request("POST", COMMANDS_PATH, query,
                                 json={"name": command, "params": params},
                                 timeout=timeout, what=f"command {command}")
        return _object(self._json(response), "command result", self.base_url)

    def get(self, command_id: str) -> dict[str, Any]:
        """The serialized result of one command (AgentError 404 if unknown)."""
        response = self._request("GET", COMMANDS_PATH + quote(command_id, safe=""), {},
                                 what=f"command {command_id}")
        return _object(self._json(response), "command result", self.base_url)

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every command result the agent still holds, oldest first."""
        response = self._request("GET", COMMANDS_PATH, {}, what="the command list")
        body = _object(self._json(response), "command list", self.base_url)
        commands = body.get("commands")
        if not isinstance(commands, list):
            raise AgentError(self.base_url, response.status_code,
                             "malformed command list: no 'commands' array")
        return commands

    def status(self) -> dict[str, Any]:
        """The agent's ``/v1/status``: ``started_at`` and ``version``."""
        response = self._request("GET", STATUS_PATH, {}, what="its status")
        return _object(self._json(response), "status", self.base_url)

    def wait_for(self, command_id: str, timeout: float, poll_interval: float,
                 on_poll: OnPoll | None = None) -> dict[str, Any]:
        """Poll until the command is no longer RUNNING; return its final result.

        ``on_poll`` gets each result seen while it still runs. Raises
        ``AgentTimeout`` once ``timeout`` seconds have passed.
        """
        deadline = time.monotonic() + timeout
        while True:
            result = self.get(command_id)
            if result.get("command_status") != RUNNING:
                return result
            if on_poll is not None:
                on_poll(result)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                name = result.get("command_name") or "?"
                raise AgentTimeout(
                    f"command {command_id} ({name}) on agent {self.base_url} "
                    f"still running after {timeout:g}s", timeout)
            time.sleep(min(poll_interval, remaining))  # the poll interval

    def _request(self, method: str, path: str, query: dict[str, str], *,
                 json: Any = None, timeout: float | None = None,
                 what: str) -> httpx.Response:
        if self._token is not None:
            query = {**query, "agent_token": self._token}
        seconds = self.timeout if timeout is None else timeout
        # Connecting stays bounded by the per-call timeout even when the
        # answer may take longer.
        limits = httpx.Timeout(seconds, connect=min(self.timeout, seconds))
        # URLs in messages never carry the query: it holds the token.
        url = self.base_url + path
        try:
            response = self._http.request(method, path, params=query, json=json,
                                          timeout=limits)
        except httpx.ConnectTimeout as exc:
            raise AgentUnreachable(
                url, f"no answer to connect within {min(self.timeout, seconds):g}s") from exc
        except httpx.ConnectError as exc:
            raise AgentUnreachable(url, str(exc) or type(exc).__name__) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise AgentUnreachable(url, f"not an http(s) URL ({exc})") from exc
        except httpx.TimeoutException as exc:
            raise AgentTimeout(f"agent at {url} did not answer about {what} "
                               f"within {seconds:g}s", seconds) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise AgentUnreachable(
                url, f"connection lost: {exc or type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise self._fault(url, response)
        return response

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise AgentError(self.base_url, response.status_code,
                             f"not a JSON answer: {_snippet(response.text)}") from exc

    @staticmethod
    def _fault(url: str, response: httpx.Response) -> AgentError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and "faultstring" in body:
            return AgentError(url, response.status_code, str(body["faultstring"]),
                              body.get("faultcode"))
        # Not the agent's fault body: a proxy, or not an agent at all.
        return AgentError(url, response.status_code,
                          _snippet(response.text) or response.reason_phrase)


def _object(value: Any, what: str, url: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AgentError(url, 200, f"malformed {what}: expected a JSON object")
    return value


def _snippet(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


__all__ = ["AgentClient"]
