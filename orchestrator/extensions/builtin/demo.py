"""``demo.*``: small commands for demos and tests of flows and compensation.

``echo`` (sync) returns its parameters, ``sleep`` (async) waits, ``fail`` raises,
and ``create_marker`` writes a file that its declared revert, ``delete_marker``,
removes again: a side effect a test can see being undone.
"""

from __future__ import annotations

import os
import time
from typing import Any

from orchestrator.extensions import base
from orchestrator.extensions.builtin.params import (
    check_absolute_path,
    check_json,
    check_names,
    check_number,
    check_str,
)
from orchestrator.extensions.errors import CommandExecutionError, InvalidCommandParamsError

MAX_SLEEP_SECONDS = 3600.0


def _validate_echo(ext: base.BaseAgentExtension, **params: Any) -> None:
    for name, value in params.items():
        check_json(name, value)


def _validate_sleep(ext: base.BaseAgentExtension, **params: Any) -> None:
    check_names(params, ["seconds"], required=["seconds"])
    check_number("seconds", params["seconds"], 0, MAX_SLEEP_SECONDS)


def _validate_fail(ext: base.BaseAgentExtension, **params: Any) -> None:
    check_names(params, ["message"])
    check_str("message", params.get("message", ""))


def _validate_create_marker(ext: base.BaseAgentExtension, **params: Any) -> None:
    check_names(params, ["path", "content"], required=["path"])
    path = check_absolute_path("path", params["path"])
    check_str("content", params.get("content", ""))
    if not os.path.isdir(os.path.dirname(path)):
        raise InvalidCommandParamsError(f"the directory of {path!r} does not exist")


def _validate_delete_marker(ext: base.BaseAgentExtension, **params: Any) -> None:
    # ``content`` and ``result`` arrive when this runs as create_marker's revert.
    check_names(params, ["path", "content", "result"], required=["path"])
    check_absolute_path("path", params["path"])
    if params.get("content") is not None:
        check_str("content", params["content"])


class DemoExtension(base.BaseAgentExtension):
    """Commands with predictable behaviour, for demos and tests."""

    @base.sync_command("echo", validator=_validate_echo)
    def echo(self, **params: Any) -> dict[str, Any]:
        """Return the parameters unchanged."""
        return dict(params)

    @base.async_command("sleep", validator=_validate_sleep)
    def sleep(self, seconds: float) -> dict[str, Any]:
        """Wait ``seconds`` in the command's own thread, then report the time taken."""
        started = time.monotonic()
        time.sleep(seconds)  # sleeping is this command's whole purpose
        return {"slept_seconds": round(time.monotonic() - started, 6)}

    @base.sync_command("fail", validator=_validate_fail)
    def fail(self, message: str = "demo.fail was asked to fail") -> None:
        """Raise CommandExecutionError with ``message``."""
        raise CommandExecutionError(message)

    @base.sync_command("create_marker", validator=_validate_create_marker, revert="delete_marker")
    def create_marker(self, path: str, content: str = "") -> dict[str, Any]:
        """Create the file ``path`` holding ``content``; an existing file is an error.

        Refusing to overwrite keeps the revert honest: delete_marker then only ever
        removes a file this command created.
        """
        with open(path, "x", encoding="utf-8") as marker:
            marker.write(content)
        return {"path": path, "bytes": len(content.encode("utf-8")), "created": True}

    @base.sync_command("delete_marker", validator=_validate_delete_marker)
    def delete_marker(
        self, path: str, content: str | None = None, result: Any = None
    ) -> dict[str, Any]:
        """Remove the marker file ``path`` (create_marker's revert).

        With ``content`` (as a revert receives it), a file whose content has changed
        since is left alone. A missing file is not an error: nothing to undo.
        """
        if not os.path.lexists(path):
            return {"path": path, "deleted": False, "reason": "absent"}
        if os.path.islink(path) or not os.path.isfile(path):
            raise CommandExecutionError(f"{path} is not a regular file; not deleting it")
        if content is not None:
            with open(path, encoding="utf-8", errors="replace") as marker:
                if marker.read() != content:
                    return {"path": path, "deleted": False, "reason": "content changed"}
        os.unlink(path)
        return {"path": path, "deleted": True}
