"""ASGI middleware of the API that is about the wire, not about any route."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
_JSON = b"application/json"


class JsonBodies:
    """Reads every request body as JSON, whatever its ``Content-Type`` says.

    The API takes nothing but JSON, and ``curl -d`` labels its body
    ``application/x-www-form-urlencoded`` unless told otherwise; refusing
    that with "should be a valid dictionary" helps nobody. A body that is not
    JSON still gets the 400 that says so.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in _WITH_BODY:
            headers = [(name, value) for name, value in scope.get("headers") or []
                       if name != b"content-type"]
            scope = {**scope, "headers": [*headers, (b"content-type", _JSON)]}
        await self.app(scope, receive, send)
