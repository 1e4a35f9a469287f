"""The built-in extensions: system facts, HTTP calls (to 127.0.0.1 only) and the demo set."""

from __future__ import annotations

import importlib
import json
import os
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from stevedore.extension import Extension, ExtensionManager

from orchestrator.extensions import base, errors
from orchestrator.extensions.builtin import BUILTIN_EXTENSIONS
from tests.helpers import wait_for


def _load(spec: str) -> type[base.BaseAgentExtension]:
    module, _, name = spec.partition(":")
    cls: type[base.BaseAgentExtension] = getattr(importlib.import_module(module), name)
    return cls


class Host(base.ExecuteCommandMixin):
    pass


@pytest.fixture
def host() -> Host:
    exts = [Extension(name, None, _load(spec), _load(spec)(agent=None))
            for name, spec in BUILTIN_EXTENSIONS.items()]
    return Host(ext_mgr=ExtensionManager.make_test_instance(exts))


def test_builtin_extensions_and_their_commands() -> None:
    commands = {n: sorted(_load(spec)().command_map) for n, spec in BUILTIN_EXTENSIONS.items()}
    assert commands == {
        "demo": ["create_marker", "delete_marker", "echo", "fail", "sleep"],
        "http": ["request"],
        "system": ["get_facts"],
    }


_REGISTERED = {ep.name: ep.value for ep in entry_points(group=base.NAMESPACE)}


@pytest.mark.skipif(not set(BUILTIN_EXTENSIONS) & set(_REGISTERED),
                    reason="built-in entry points not yet declared in pyproject.toml")
def test_builtin_extensions_are_registered_entry_points() -> None:
    assert {n: _REGISTERED.get(n) for n in BUILTIN_EXTENSIONS} == BUILTIN_EXTENSIONS


# -- system ------------------------------------------------------------------------------


def test_system_facts(host: Host, tmp_path: Path) -> None:
    facts = host.execute_command("system.get_facts", path=str(tmp_path)).wait()
    assert facts["hostname"] == socket.gethostname()
    assert facts["cpu_count"] == os.cpu_count()
    assert facts["disk"]["path"] == str(tmp_path)
    assert 0 < facts["disk"]["free_bytes"] <= facts["disk"]["total_bytes"]
    assert facts["memory"]["total_bytes"] > 0
    assert set(facts["python"]) == {"version", "implementation", "executable"}
    assert set(facts["os"]) == {"system", "release", "machine", "platform"}
    json.dumps(facts, allow_nan=False)
    assert host.execute_command("system.get_facts").wait()["disk"]["path"] == "/"


@pytest.mark.parametrize(
    "params", [{"path": "relative"}, {"path": "/no/such/dir"}, {"path": 3}, {"paht": "/"}]
)
def test_system_facts_validation(host: Host, params: dict[str, Any]) -> None:
    with pytest.raises(errors.InvalidCommandParamsError):
        host.execute_command("system.get_facts", **params)


# -- demo --------------------------------------------------------------------------------


def test_demo_echo(host: Host) -> None:
    assert host.execute_command("demo.echo", a=1, b=[True]).wait() == {"a": 1, "b": [True]}
    with pytest.raises(errors.InvalidCommandParamsError):
        host.execute_command("demo.echo", a=object())


def test_demo_sleep_runs_in_the_background(host: Host) -> None:
    result = host.execute_command("demo.sleep", seconds=0.2)
    assert isinstance(result, base.AsyncCommandResult)
    wait_for(result.is_done, timeout=10, message="demo.sleep to finish")
    assert result.wait()["slept_seconds"] >= 0.2


@pytest.mark.parametrize("params", [{}, {"seconds": -1}, {"seconds": "1"},
                                    {"seconds": True}, {"seconds": 1e9}, {"seconds": 1, "x": 1}])
def test_demo_sleep_validation(host: Host, params: dict[str, Any]) -> None:
    with pytest.raises(errors.InvalidCommandParamsError):
        host.execute_command("demo.sleep", **params)


def test_demo_fail(host: Host) -> None:
    result = host.execute_command("demo.fail", message="planned")
    assert result.command_status == "FAILED"
    assert result.serialize()["command_error"]["details"] == "planned"
    assert host.execute_command("demo.fail").serialize()["command_error"]["type"] == (
        "CommandExecutionError"
    )


def test_demo_marker_is_undone_by_its_declared_revert(host: Host, tmp_path: Path) -> None:
    path = tmp_path / "marker"
    params = {"path": str(path), "content": "hello"}
    created = host.execute_command("demo.create_marker", **params)
    assert created.wait() == {"path": str(path), "bytes": 5, "created": True}
    assert path.read_text() == "hello"
    demo = host.get_extension("demo")
    revert = demo.revert_command_for("create_marker")
    assert revert == "delete_marker"
    undone = host.execute_command(f"demo.{revert}", **params, result=created.command_result)
    assert undone.wait() == {"path": str(path), "deleted": True}
    assert not path.exists()
    again = host.execute_command(f"demo.{revert}", **params, result=created.command_result)
    assert again.wait() == {"path": str(path), "deleted": False, "reason": "absent"}
    assert demo.revert_command_for("delete_marker") is None


def test_demo_marker_never_touches_files_it_did_not_create(host: Host, tmp_path: Path) -> None:
    path = tmp_path / "existing"
    path.write_text("theirs")
    result = host.execute_command("demo.create_marker", path=str(path), content="mine")
    assert result.command_status == "FAILED" and path.read_text() == "theirs"
    kept = host.execute_command("demo.delete_marker", path=str(path), content="mine")
    assert kept.wait()["reason"] == "content changed" and path.exists()
    folder = host.execute_command("demo.delete_marker", path=str(tmp_path))
    assert folder.command_status == "FAILED" and tmp_path.is_dir()


@pytest.mark.parametrize("params", [{"path": "rel"}, {"path": "/no/such/dir/m"},
                                    {"path": "/tmp/m", "content": 1}, {}])
def test_demo_marker_validation(host: Host, params: dict[str, Any]) -> None:
    with pytest.raises(errors.InvalidCommandParamsError):
        host.execute_command("demo.create_marker", **params)


# -- http --------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    release = threading.Event()

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/slow":
            self.release.wait(10)
        status = int(self.path.split("/")[2]) if self.path.startswith("/status/") else 200
        size = 100_000 if self.path == "/big" else 0
        self._reply(status, {"path": self.path, "pad": "x" * size})

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self._reply(201, {"got": json.loads(body), "header": self.headers.get("X-Test")})

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)  # 127.0.0.1 only, never via a proxy
    _Handler.release = threading.Event()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        _Handler.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def test_http_get(host: Host, server: str) -> None:
    result = host.execute_command("http.request", url=f"{server}/ok")
    assert isinstance(result, base.AsyncCommandResult)
    answer = result.wait()
    assert (answer["status_code"], answer["reason"], answer["method"]) == (200, "OK", "GET")
    assert answer["json"] == {"path": "/ok", "pad": ""}
    assert answer["body_truncated"] is False and answer["url"] == f"{server}/ok"
    json.dumps(result.serialize(), allow_nan=False)


def test_http_post_json_with_headers(host: Host, server: str) -> None:
    answer = host.execute_command(
        "http.request", url=f"{server}/p", method="post", json={"a": 1},
        headers={"X-Test": "yes"}, expected_status=[200, 201],
    ).wait()
    assert answer["status_code"] == 201
    assert answer["json"] == {"got": {"a": 1}, "header": "yes"}


def test_http_unexpected_status_fails(host: Host, server: str) -> None:
    failed = host.execute_command("http.request", url=f"{server}/status/404").join()
    assert failed.command_status == "FAILED"
    assert "returned 404, expected a status below 400" in failed.command_error.details
    wanted = host.execute_command("http.request", url=f"{server}/status/404", expected_status=404)
    assert wanted.wait()["status_code"] == 404
    other = host.execute_command("http.request", url=f"{server}/ok", expected_status=204).join()
    assert "returned 200, expected [204]" in other.command_error.details


def test_http_timeout(host: Host, server: str) -> None:
    result = host.execute_command("http.request", url=f"{server}/slow", timeout=0.2).join()
    assert result.command_status == "FAILED"
    assert result.command_error.details == f"GET {server}/slow timed out after 0.2s"


def test_http_connection_refused(host: Host) -> None:
    with socket.socket() as sock:  # bound, not listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        result = host.execute_command("http.request", url=url, timeout=5).join()
    assert result.command_status == "FAILED"
    assert result.command_error.details.startswith(f"GET {url} failed:")


def test_http_body_is_capped(host: Host, server: str) -> None:
    answer = host.execute_command("http.request", url=f"{server}/big", max_body_bytes=10).wait()
    assert (answer["body"], answer["body_truncated"], answer["json"]) == ('{"path": "', True, None)


@pytest.mark.parametrize("params", [
    {}, {"url": "ftp://127.0.0.1/"}, {"url": "http:///nohost"},
    {"url": "http://h", "method": "BREW"},
    {"url": "http://h", "timeout": 0}, {"url": "http://h", "expected_status": 99},
    {"url": "http://h", "expected_status": []}, {"url": "http://h", "headers": {"a": 1}},
    {"url": "http://h", "body": "x", "json": {}}, {"url": "http://h", "follow_redirects": 1},
    {"url": "http://h", "max_body_bytes": 1.5}, {"url": "http://h", "verb": "GET"},
])
def test_http_validation(host: Host, params: dict[str, Any]) -> None:
    with pytest.raises(errors.InvalidCommandParamsError):
        host.execute_command("http.request", **params)
