"""``http.request``: one HTTP call with a timeout and an expected status.

Asynchronous, so a slow server never holds the agent's command lock; the body is
read up to a cap so a large answer cannot bloat the results history.
"""

from __future__ import annotations

import json as jsonlib  # ``json`` is a parameter name of request()
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from orchestrator.extensions import base

if TYPE_CHECKING:
    import httpx
from orchestrator.extensions.builtin.params import (
    check_json,
    check_names,
    check_number,
    check_str,
)
from orchestrator.extensions.errors import CommandExecutionError, InvalidCommandParamsError

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
MAX_TIMEOUT = 3600.0
DEFAULT_MAX_BODY_BYTES = 64 * 1024
_PARAMS = (
    "url",
    "method",
    "timeout",
    "expected_status",
    "headers",
    "body",
    "json",
    "follow_redirects",
    "max_body_bytes",
)


def _validate_request(ext: base.BaseAgentExtension, **params: Any) -> None:
    check_names(params, _PARAMS, required=["url"])
    url = check_str("url", params["url"])
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidCommandParamsError(f"url must be an http:// or https:// URL, not {url!r}")
    method = check_str("method", params.get("method", "GET")).upper()
    if method not in METHODS:
        raise InvalidCommandParamsError(f"method must be one of {', '.join(sorted(METHODS))}")
    if "timeout" in params:
        check_number("timeout", params["timeout"], 0.001, MAX_TIMEOUT)
    _expected(params.get("expected_status"))
    headers = params.get("headers")
    if headers is not None and not (
        isinstance(headers, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        raise InvalidCommandParamsError("headers must map strings to strings")
    if params.get("body") is not None and params.get("json") is not None:
        raise InvalidCommandParamsError("give body or json, not both")
    if params.get("body") is not None:
        check_str("body", params["body"])
    check_json("json", params.get("json"))
    if not isinstance(params.get("follow_redirects", False), bool):
        raise InvalidCommandParamsError("follow_redirects must be true or false")
    if "max_body_bytes" in params:
        check_number("max_body_bytes", params["max_body_bytes"], 0, 16 * 1024 * 1024)
        if not isinstance(params["max_body_bytes"], int):
            raise InvalidCommandParamsError("max_body_bytes must be an integer")


def _expected(value: Any) -> frozenset[int] | None:
    """The accepted status codes; None means any code below 400."""
    if value is None:
        return None
    codes = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    if not codes or not all(
        isinstance(c, int) and not isinstance(c, bool) and 100 <= c <= 599 for c in codes
    ):
        raise InvalidCommandParamsError(
            "expected_status must be an HTTP status code (100-599) or a non-empty list of them"
        )
    return frozenset(codes)


class HttpExtension(base.BaseAgentExtension):
    """Calls an HTTP endpoint, e.g. to notify a service or check that one is up."""

    @base.async_command("request", validator=_validate_request)
    def request(
        self,
        url: str,
        method: str = "GET",
        timeout: float = 10.0,
        expected_status: int | list[int] | None = None,
        headers: dict[str, str] | None = None,
        body: str | None = None,
        json: Any = None,
        follow_redirects: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> dict[str, Any]:
        """Send one request; fail unless the status is expected.

        ``timeout`` bounds the whole call (connecting, sending and reading), in
        seconds. ``expected_status``: a code or list of codes; by default any code
        below 400 succeeds. The result holds ``status_code``, ``reason``,
        ``headers``, ``body`` (text, at most ``max_body_bytes``), ``body_truncated``,
        ``json`` (the parsed body when it is JSON, else None), ``url`` (after any
        redirects) and ``elapsed_seconds``.
        """
        import httpx  # here: listing the commands loads this module, not a request

        method = method.upper()
        accepted = _expected(expected_status)
        started = time.monotonic()
        deadline = started + timeout
        try:
            with httpx.Client(timeout=timeout, follow_redirects=follow_redirects) as client:
                with client.stream(
                    method, url, headers=headers, content=body, json=json
                ) as response:
                    raw, truncated = _read_capped(response, max_body_bytes, deadline)
        except httpx.TimeoutException as exc:
            raise CommandExecutionError(f"{method} {url} timed out after {timeout}s") from exc
        except httpx.HTTPError as exc:
            raise CommandExecutionError(f"{method} {url} failed: {exc}") from exc
        if time.monotonic() > deadline:
            raise CommandExecutionError(f"{method} {url} timed out after {timeout}s")
        text = raw.decode(response.encoding or "utf-8", errors="replace")
        status = response.status_code
        if (status not in accepted) if accepted is not None else status >= 400:
            wanted = sorted(accepted) if accepted is not None else "a status below 400"
            raise CommandExecutionError(
                f"{method} {url} returned {status}, expected {wanted}; body: {text[:200]!r}"
            )
        return {
            "url": str(response.url),
            "method": method,
            "status_code": status,
            "reason": response.reason_phrase,
            "headers": dict(response.headers),
            "body": text,
            "body_truncated": truncated,
            "json": _parse_json(response, text, truncated),
            "elapsed_seconds": round(time.monotonic() - started, 6),
        }


def _read_capped(response: httpx.Response, cap: int, deadline: float) -> tuple[bytes, bool]:
    import httpx

    # httpx's timeout applies to each read; the deadline bounds a server that
    # trickles bytes forever.
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise httpx.ReadTimeout("deadline passed while reading the body")
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            return b"".join(chunks)[:cap], True
    return b"".join(chunks), False


def _parse_json(response: httpx.Response, text: str, truncated: bool) -> Any:
    content_type = response.headers.get("content-type", "")
    if truncated or "json" not in content_type.lower():
        return None
    try:
        return jsonlib.loads(text)
    except ValueError:
        return None
