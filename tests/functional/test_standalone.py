"""Standalone mode as a newcomer runs it: real ZooKeeper, SQLite, a conductor, demo jobs."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from orchestrator.standalone import find_free_port
from tests.helpers import wait_for

pytestmark = pytest.mark.functional


def _command(state: Path, port: int, *extra: str, api_port: int | None = None) -> list[str]:
    return [sys.executable, "-m", "orchestrator.cli.main", "standalone",
            "--state-dir", str(state), "--zookeeper-port", str(port),
            "--api-port", str(api_port or find_free_port()), *extra]


def _our_processes(state: Path) -> list[str]:
    """Processes (ZooKeeper, conductor, API) still running from this state directory."""
    out = subprocess.run(["pgrep", "-af", str(state)], capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if "pgrep" not in line]


def _jobs(state: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(state / "orchestrator.sqlite") as db:
        return list(db.execute(
            "select flow_name, state from orchestrator_jobs order by created_at"))


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "state"
    yield path
    for line in _our_processes(path):
        os.kill(int(line.split()[0]), signal.SIGKILL)


@pytest.fixture
def java_ok(zookeeper_server: object) -> None:
    """Standalone needs what the ZooKeeper fixture needs (skips or fails the same way)."""


def test_demo_runs_and_a_second_run_reuses_the_state(state: Path, tmp_path: Path,
                                                     java_ok: None) -> None:
    port = find_free_port()
    # A config file given to standalone reaches the commands pointed at it later.
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "echo.yaml").write_text(
        "name: echo-once\nsteps:\n  - {name: echo, command: demo.echo, params: {ok: true}}\n")
    extra = tmp_path / "extra.conf"
    extra.write_text(f"[flows]\ndirectory = {flows}\n")
    first = subprocess.run(
        [*_command(state, port, "--exit-after-demo")[:3], "--config-file", str(extra),
         *_command(state, port, "--exit-after-demo")[3:]],
        capture_output=True, text=True, timeout=180)
    assert first.returncode == 0, first.stderr
    assert "SUCCESS" in first.stderr and "REVERTED" in first.stderr
    assert "reverted, last executed first: call-jmilkfan -> call-joe -> call-jim" in \
        first.stderr
    assert str(state / "standalone.conf") in first.stderr
    assert _jobs(state) == [("create-volume", "SUCCESS"), ("phone-calls", "REVERTED")]
    assert _our_processes(state) == []
    listed = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.main", "--config-file",
         str(state / "standalone.conf"), "flows"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "echo-once" in listed.stdout, listed.stderr

    second = subprocess.run(_command(state, port, "--exit-after-demo"),
                            capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr
    assert len(_jobs(state)) == 4
    assert _our_processes(state) == []


def test_serves_the_api_and_page_and_ctrl_c_stops_everything(state: Path,
                                                             java_ok: None) -> None:
    port, api_port = find_free_port(), find_free_port()
    log = state.parent / "standalone.out"
    with open(log, "wb") as out:
        # A terminal delivers Ctrl-C to the whole foreground process group.
        proc = subprocess.Popen(_command(state, port, api_port=api_port), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: "Serving" in log.read_text(), timeout=180,
                 message="standalone mode to serve")
        url = f"http://127.0.0.1:{api_port}"
        printed = log.read_text()
        assert f"web page:       {url}/" in printed
        assert f"{url}/v1/openapi.json" in printed
        assert f"in the browser: {url}/jobs/" in printed
        assert len(_our_processes(state)) >= 3  # ZooKeeper, the conductor, the API
        # Standalone mode needs no token; the demo jobs are there.
        jobs = httpx.get(f"{url}/v1/jobs", timeout=10).json()["jobs"]
        assert [j["state"] for j in jobs] == ["REVERTED", "SUCCESS"]
        assert "<html" in httpx.get(f"{url}/", timeout=10).text.lower()
        conductors = httpx.get(f"{url}/v1/conductors", timeout=10).json()["conductors"]
        assert [c["name"] for c in conductors] == ["standalone-conductor"]
        # A second standalone on the same state directory is refused, naming the first.
        second = subprocess.run(_command(state, find_free_port(), "--exit-after-demo"),
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1, second.stderr
        assert "is in use" in second.stderr and f"pid {proc.pid}" in second.stderr
        assert f"port {port}" in second.stderr and str(api_port) in second.stderr
        assert "Traceback" not in second.stderr
        # The command it prints for the rest works as typed.
        other = next(line for line in printed.splitlines() if "other commands:" in line)
        typed = other.split("other commands:", 1)[1].replace("...", "flows").split()
        listed = subprocess.run(typed, capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0 and "create-volume" in listed.stdout, listed.stderr
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=90) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert _our_processes(state) == []
    assert "Stopped." in log.read_text()


@pytest.mark.parametrize("moment", ["Starting ZooKeeper", "Starting a conductor",
                                    "orchestrator standalone"])
def test_ctrl_c_while_starting_stops_everything_and_exits_0(
        state: Path, java_ok: None, moment: str) -> None:
    log = state.parent / "standalone.out"
    state.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(_command(state, find_free_port()), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: moment in log.read_text() or proc.poll() is not None,
                 timeout=180, message=f"standalone to print {moment!r}")
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=90) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    printed = log.read_text()
    assert "Stopped." in printed and "Aborted" not in printed, printed
    assert "Traceback" not in printed, printed
    assert _our_processes(state) == []


def test_port_in_use_is_a_clear_error(state: Path, java_ok: None) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(_command(state, port, "--exit-after-demo"),
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"port {port}" in result.stderr and "in use" in result.stderr
    assert "Traceback" not in result.stderr
    assert _our_processes(state) == []


def test_api_port_in_use_is_a_clear_error(state: Path, java_ok: None) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        api_port = busy.getsockname()[1]
        result = subprocess.run(
            _command(state, find_free_port(), "--exit-after-demo", api_port=api_port),
            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"port {api_port}" in result.stderr and "in use" in result.stderr
    assert "--api-port" in result.stderr
    assert "Traceback" not in result.stderr
    assert _our_processes(state) == []


def test_missing_java_says_what_to_install(state: Path, tmp_path: Path) -> None:
    config = tmp_path / "no-java.conf"
    config.write_text(f"[standalone]\njava = {tmp_path / 'no-such-java'}\n")
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli.main", "--config-file", str(config),
         "standalone", "--state-dir", str(state), "--exit-after-demo"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "apt-get install -y zookeeper" in result.stderr
    assert "Traceback" not in result.stderr
