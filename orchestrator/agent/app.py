"""The agent's HTTP API: IPA's command routes, token check, status codes and faults.

Matches ``ironic_python_agent/api/app.py`` so that a client written for IPA (as
Ironic's ``agent_client``) works unchanged:

- ``POST /v1/commands/`` body ``{"name": "ext.cmd", "params": {...}}``, token in
  ``?agent_token=``, ``?wait=true`` answers once the command has finished; 200
  with the serialized result, FAILED results included.
- ``GET /v1/commands/`` -> ``{"commands": [...]}``; ``GET /v1/commands/<id>``
  (``?wait=true`` too); ``GET /v1/status`` (no token); the same without ``/v1``.
- Every error is ``{"faultcode": "Client"|"Server", "faultstring": "..."}`` with
  the status code of the error: IPA's REST errors carry theirs, HTTP errors
  read like werkzeug's (``"401 Unauthorized: Token invalid."``).

Deliberate differences from IPA 13:

- Where IPA answers 500 to bad input (a body that is not an object, a name that
  is not a string, a param called ``command_name``) this answers 400.
- With a token configured, the GET command routes always require it. IPA lets
  GETs through until some GET has carried a token (for conductors older than
  Ussuri, which sent none); nothing here sends none.
- With no token configured nothing is checked. IPA would refuse a request that
  carries a token then (it compares None with it).
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from orchestrator import httpserver
from orchestrator.agent.errors import AgentListenError
from orchestrator.agent.service import CommandAgent
from orchestrator.extensions import InvalidCommandParamsError, json_safe

LOG = logging.getLogger(__name__)

MEDIA_TYPE = "application/json"
_CUSTOM_MEDIA_TYPE = "application/vnd.openstack.ironic-python-agent.v1+json"
_DOCS_URL = "https://docs.openstack.org/ironic-python-agent"

# werkzeug's names and default descriptions, which IPA's faultstrings carry.
_HTTP_TEXT = {
    400: ("Bad Request", "The browser (or proxy) sent a request that this server "
          "could not understand."),
    401: ("Unauthorized", "The server could not verify that you are authorized to "
          "access the URL requested. You either supplied the wrong credentials "
          "(e.g. a bad password), or your browser doesn't understand how to "
          "supply the credentials required."),
    404: ("Not Found", "The requested URL was not found on the server. If you "
          "entered the URL manually please check your spelling and try again."),
    405: ("Method Not Allowed", "The method is not allowed for the requested URL."),
}

_BAD_BODY = "Missing or invalid name or params"
_TOKEN_INVALID = "Token invalid."


class HTTPFault(Exception):
    """An HTTP error raised by the API itself, rendered as werkzeug renders it."""

    def __init__(self, status_code: int, description: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        name, default = _HTTP_TEXT.get(status_code, ("Error", ""))
        super().__init__(f"{status_code} {name}: {description or default}")
        self.status_code = status_code
        self.headers = headers


def create_app(agent: CommandAgent, token: str | None) -> FastAPI:
    """The ASGI application serving ``agent``; ``token`` None disables the check."""
    app = FastAPI(title="orchestrator agent", openapi_url=None, docs_url=None,
                  redoc_url=None)

    def check_token(request: Request) -> None:
        if token is None:
            return
        given = _query_arg(request, "agent_token")
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPFault(401, _TOKEN_INVALID)

    @_faults
    async def root(request: Request) -> Response:
        url = str(request.base_url).rstrip("/")
        return _json({
            "name": "orchestrator agent API",
            "description": "IPA-compatible command API of the orchestrator agent",
            "versions": [_version(url)],
            "default_version": _version(url),
        })

    @_faults
    async def v1(request: Request) -> Response:
        url = str(request.base_url).rstrip("/")
        return _json({
            "commands": [_link(url, "self", "commands"),
                         _link(url, "bookmark", "commands")],
            "status": [_link(url, "self", "status"), _link(url, "bookmark", "status")],
            "media_types": [{"base": MEDIA_TYPE, "type": _CUSTOM_MEDIA_TYPE}],
            **_version(url),
        })

    @_faults
    async def status(request: Request) -> Response:
        return _json(agent.status())

    @_faults
    async def list_commands(request: Request) -> Response:
        check_token(request)
        return _json({"commands": agent.list_command_results()})

    @_faults
    async def get_command(request: Request, cmd: str) -> Response:
        check_token(request)
        result = agent.get_command_result(cmd)
        if _wants_wait(request):
            await run_in_threadpool(result.join)
        return _json(result)

    @_faults
    async def run_command(request: Request) -> Response:
        # IPA's order: the body is checked before the token.
        name, params = _command_body(await request.body())
        check_token(request)
        # Extensions run in a worker thread: a sync command, a validator or the
        # wait must never block the event loop that serves the other requests.
        result = await run_in_threadpool(
            functools.partial(agent.execute_command, name, **params))
        if _wants_wait(request):
            await run_in_threadpool(result.join)
        return _json(result)

    for prefix in ("/v1", ""):
        app.add_api_route(prefix + "/status", status, methods=["GET"])
        app.add_api_route(prefix + "/commands/", list_commands, methods=["GET"])
        app.add_api_route(prefix + "/commands/{cmd}", get_command, methods=["GET"])
        app.add_api_route(prefix + "/commands/", run_command, methods=["POST"])
    app.add_api_route("/", root, methods=["GET"])
    app.add_api_route("/v1/", v1, methods=["GET"])

    # Routing errors (unknown URL, wrong method) in the same fault shape.
    app.add_exception_handler(StarletteHTTPException, _routing_fault)
    app.add_exception_handler(RequestValidationError, _validation_fault)
    return app


def _faults(
    endpoint: Callable[..., Awaitable[Response]],
) -> Callable[..., Awaitable[Response]]:
    """Render any exception of ``endpoint`` as IPA's fault body."""

    @functools.wraps(endpoint)
    async def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return await endpoint(*args, **kwargs)
        except Exception as exc:  # every error becomes a fault, as in IPA
            return _fault(exc)

    return wrapper


def _fault(exc: Exception) -> Response:
    """IPA's ``format_exception`` + ``handle_exception``."""
    status = getattr(exc, "status_code", None)
    if not isinstance(status, int) or not 400 <= status <= 599:
        status = 500
    if status >= 500:
        LOG.exception("Internal server error: %s", exc)
    headers = exc.headers if isinstance(exc, HTTPFault) else None
    return _json({"faultcode": "Server" if status >= 500 else "Client",
                  "faultstring": str(exc)}, status, headers)


async def _routing_fault(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    name, default = _HTTP_TEXT.get(exc.status_code, ("Error", str(exc.detail)))
    text = f"{exc.status_code} {name}: {default}"
    if exc.status_code < 400:  # a redirect (a missing trailing slash)
        return Response(status_code=exc.status_code, headers=exc.headers)
    return _json({"faultcode": "Server" if exc.status_code >= 500 else "Client",
                  "faultstring": text}, exc.status_code, exc.headers)


async def _validation_fault(request: Request, exc: Exception) -> Response:
    return _fault(HTTPFault(400, str(exc)))


def _command_body(raw: bytes) -> tuple[str, dict[str, Any]]:
    """``(name, params)`` from a POST body, or a 400 as IPA words it."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise HTTPFault(400, f"Failed to decode JSON object: {exc}") from exc
    if (not isinstance(body, dict) or "name" not in body or "params" not in body
            or not isinstance(body["params"], dict)
            or not isinstance(body["name"], str)):
        raise HTTPFault(400, _BAD_BODY)
    params: dict[str, Any] = body["params"]
    if "command_name" in params:
        # execute_command's own argument: it cannot also be a command's.
        raise InvalidCommandParamsError(
            "'command_name' cannot be a command parameter")
    return body["name"], params


def _query_arg(request: Request, name: str) -> str | None:
    # werkzeug's args.get: the first value of a repeated argument.
    values = request.query_params.getlist(name)
    return values[0] if values else None


def _wants_wait(request: Request) -> bool:
    wait = _query_arg(request, "wait")
    return bool(wait) and wait is not None and wait.lower() == "true"


def _json(value: Any, status: int = 200,
          headers: Mapping[str, str] | None = None) -> Response:
    # As IPA's encoder: results and errors through serialize(); but what JSON
    # cannot hold becomes a marker string instead of a 500 (extensions.encoding).
    return Response(json.dumps(json_safe(value), allow_nan=False), status_code=status,
                    media_type=MEDIA_TYPE, headers=headers)


def _link(url: str, rel: str, resource: str = "", bookmark: bool = False) -> dict[str, str]:
    """IPA's ``make_link``."""
    if rel == "describedby":
        return {"href": f"{_DOCS_URL}/{resource}", "rel": rel, "type": "text/html"}
    if rel == "bookmark":
        bookmark = True
    href = f"{url}/{resource}" if bookmark else f"{url}/v1/{resource}"
    return {"href": href, "rel": rel}


def _version(url: str) -> dict[str, Any]:
    return {"id": "v1", "links": [_link(url, "self", "v1", bookmark=True),
                                  _link(url, "describedby", bookmark=True)]}


def serve(app: FastAPI, host: str, port: int, *, graceful_timeout: int = 5) -> None:
    """Serve ``app`` on ``host:port`` until SIGTERM, SIGINT or SIGHUP; then return.

    A port in use is an ``AgentListenError``.
    """
    _redact_access_log()
    try:
        httpserver.serve(app, host, port, name="agent", what="the command API",
                         graceful_timeout=graceful_timeout)
    except httpserver.ListenError as exc:
        raise AgentListenError(exc.host, exc.port, exc.reason) from exc


_TOKEN_IN_QUERY = re.compile(r"(agent_token=)[^&\s]*")


class _RedactToken(logging.Filter):
    """Keep the token out of the access log: IPA's protocol puts it in the query."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_QUERY.sub(r"\1***", a) if isinstance(a, str) else a
                                for a in record.args)
        return True


def _redact_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactToken) for f in access.filters):
        access.addFilter(_RedactToken())


__all__ = ["HTTPFault", "create_app", "serve"]
