"""Read-only commands through the HTTP API, when ``[cli] api_url`` is set.

Opening the database costs a read-only command most of its second of
start-up (SQLAlchemy, oslo.config, the service, a ZooKeeper session for the
conductors); the API already has all of them open. With ``api_url`` set,
``jobs list``, ``jobs show``, ``jobs explain``, ``flows``, ``conductors``,
``schedules list`` and ``schedules show`` fetch the API's JSON (the same views
the database path builds, rendered by the same code) with the standard
library alone. An API that does not answer is no error: the command reads
the database instead.

The option is read here without oslo.config, which would cost as much as the
request: the files are found as oslo.config finds them and parsed by its own
INI parser; a value this reader cannot be sure of (an interpolation, a URL
oslo.config would refuse) sends the command down the database path, where
oslo.config reads it properly.
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oslo_config import iniparser

from orchestrator.errors import OrchestratorError

PROJECT = "orchestrator"
GROUP = "cli"
DEFAULT_TIMEOUT = 5.0  # [cli] api_timeout's default


class Unreachable(Exception):
    """The API did not answer; the command reads the database instead."""


class ApiRefused(OrchestratorError):
    """The API answered the request with an error."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.client_error = 400 <= status < 500


@dataclass(frozen=True)
class Api:
    url: str
    token: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def get(self, path: str, query: Mapping[str, Any] | None = None) -> Any:
        """The JSON body of ``GET <url>/v1<path>?<query>``; a list in ``query``
        repeats its key, None leaves it out.

        Raises ``Unreachable`` when nothing answers (refused, timed out, not
        HTTP), ``ApiRefused`` with the API's own message for an error status.
        """
        base = urllib.parse.urlsplit(self.url)
        target = f"{base.path.rstrip('/')}/v1{path}"
        encoded = urllib.parse.urlencode(
            {k: v for k, v in (query or {}).items() if v is not None}, doseq=True)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        # http.client, not urllib.request: half the import time, and a CLI
        # reading its own deployment's API has no business with proxies.
        kind = http.client.HTTPSConnection if base.scheme == "https" else \
            http.client.HTTPConnection
        connection = kind(base.netloc, timeout=self.timeout)
        try:
            connection.request("GET", f"{target}?{encoded}" if encoded else target,
                               headers=headers)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            # Refused, reset, timed out, not HTTP: not an API that can answer.
            _note(f"the API at {self.url} did not answer ({exc}); reading directly")
            raise Unreachable(str(exc)) from exc
        finally:
            connection.close()
        if response.status >= 400:
            message = _message(self.url, response.status, response.reason, body)
            if response.status == 401:
                message += (f" (the API at {self.url} wants a token: set [cli] api_token "
                            "to one of its [api] tokens)")
            raise ApiRefused(response.status, message)
        try:
            return json.loads(body)
        except ValueError as exc:
            _note(f"the API at {self.url} answered something else than JSON; reading "
                  "directly")
            raise Unreachable(str(exc)) from exc


def _note(message: str) -> None:
    # logging only now: importing it costs a fast command a tenth of its time.
    import logging

    logging.getLogger(__name__).info("%s", message)


def _message(url: str, status: int, reason: str, body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"the API at {url} answered {status} {reason}"


def configured(config_files: Sequence[str]) -> Api | None:
    """The API read-only commands go through, if ``[cli] api_url`` is set for sure."""
    values = _cli_options(config_files)
    if values is None:
        return None
    url = os.environ.get(_env_name("api_url"), values.get("api_url"))
    if not url or "$" in url:
        return None  # unset, or an interpolation: oslo.config's to resolve
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return None  # oslo.config names the mistake on the database path
    token = os.environ.get(_env_name("api_token"), values.get("api_token"))
    if token is not None and "$" in token:
        return None
    try:
        timeout = float(os.environ.get(_env_name("api_timeout"),
                                       values.get("api_timeout", DEFAULT_TIMEOUT)))
    except ValueError:
        return None
    if timeout < 0.1:
        return None
    return Api(url, token or None, timeout)


def _env_name(option: str) -> str:
    # oslo.config's environment source: OS_<GROUP>__<OPTION>, which beats files.
    return f"OS_{GROUP.upper()}__{option.upper()}"


def _cli_options(config_files: Sequence[str]) -> dict[str, str] | None:
    """``[cli]`` as oslo.config would read it: files in order, the last value wins.

    None if a file cannot be read: oslo.config says why on the database path.
    """
    values: dict[str, str] = {}
    for path in [*(config_files or _default_files()), *_default_dir_files()]:
        parser = _SectionReader(GROUP)
        try:
            with open(path, encoding="utf-8") as lines:
                parser.parse(lines)
        except (OSError, UnicodeDecodeError, iniparser.ParseError):
            return None
        values.update(parser.values)
    return values


def _search_dirs() -> list[Path]:
    # oslo.config's search path for a project (cfg._get_config_dirs).
    dirs = [Path("~", f".{PROJECT}").expanduser(), Path("~").expanduser(),
            Path("/etc", PROJECT), Path("/etc")]
    for snap in ("SNAP_COMMON", "SNAP"):
        if os.environ.get(snap):
            dirs.append(Path(os.environ[snap], "etc", PROJECT))
    return dirs


def _prog() -> str:
    # oslo.config also looks for <prog>.conf, prog being the command's name.
    import sys

    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name[:-3] if name.endswith(".py") else name


def _first_found(names: Iterable[str]) -> list[Path]:
    found = []
    for name in dict.fromkeys(names):
        match = next((d / name for d in _search_dirs() if (d / name).exists()), None)
        if match is not None:
            found.append(match)
    return found


def _default_files() -> list[Path]:
    return _first_found(n for n in (f"{PROJECT}.conf", f"{_prog()}.conf")
                        if n != ".conf")


def _default_dir_files() -> list[Path]:
    files: list[Path] = []
    for directory in _first_found(n for n in (f"{PROJECT}.conf.d", f"{_prog()}.conf.d")
                                  if n != ".conf.d"):
        files.extend(sorted(directory.glob("*.conf")))
    return files


class _SectionReader(iniparser.BaseParser):
    """Keeps one section's values, each the last given and multi-line ones joined
    as oslo.config joins them."""

    def __init__(self, section: str) -> None:
        super().__init__()
        self._wanted = section
        self._section: str | None = None
        self._in_it = False
        self.values: dict[str, str] = {}

    def new_section(self, section: str) -> None:
        self._section = section
        # oslo.config matches group names in any case, except DEFAULT.
        self._in_it = section != "DEFAULT" and section.lower() == self._wanted

    def assignment(self, key: str, value: list[str]) -> None:
        if self._section is None:
            raise self.parse_exc("Section must be started before assignment",
                                 self.lineno, key)
        if self._in_it:
            self.values[key] = "\n".join(value)


def quoted(segment: str) -> str:
    """A job id or a schedule name as one path segment of a URL."""
    return urllib.parse.quote(segment, safe="")
