"""Real orchestrator processes against the fixtures' ZooKeeper and database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import persistence
from orchestrator.standalone.zookeeper import find_free_port
from tests.helpers import wait_for


class Deployment:
    """A config file plus helpers to run ``orchestrator`` commands and conductors."""

    def __init__(self, tmp_path: Path, db_url: str, zk_hosts: str, board_path: str) -> None:
        self.tmp_path = tmp_path
        self.db_url = db_url
        self.zk_hosts = zk_hosts
        self.board_path = board_path
        self.config = tmp_path / "orchestrator.conf"
        self.config.write_text(
            "[DEFAULT]\n"
            f"state_path = {tmp_path / 'state'}\n"
            "[jobboard]\n"
            f"hosts = {zk_hosts}\n"
            f"path = {board_path}\n"
            # Short sessions: a killed conductor's claims expire quickly.
            "session_timeout = 2\n"
            "connect_timeout = 10\n"
            "[database]\n"
            f"connection = {db_url}\n"
            "[conductor]\n"
            "poll_interval = 0.05\n"
        )
        self._procs: list[subprocess.Popen[bytes]] = []

    def add_config(self, text: str) -> None:
        """Append settings; processes started afterwards read them."""
        with open(self.config, "a") as config:
            config.write(text)

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "orchestrator.cli.main", "--config-file",
                str(self.config), *args]

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(*args), capture_output=True, text=True,
                              timeout=timeout)

    def start_conductor(self, name: str, **options: object) -> subprocess.Popen[bytes]:
        """Start ``orchestrator conductor``; ``options`` override its [conductor] group."""
        args = ["-v", "conductor", "--name", name]
        if options:
            extra = self.tmp_path / f"conductor-{name}.conf"
            extra.write_text("[conductor]\n" + "".join(
                f"{key} = {value}\n" for key, value in options.items()))
            args = ["--config-file", str(extra), *args]
        log = open(self.tmp_path / f"conductor-{name}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(self.command(*args), stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        self._procs.append(proc)
        return proc

    def start_agent(self, port: int) -> subprocess.Popen[bytes]:
        """Start ``orchestrator agent`` on 127.0.0.1:port; return once it answers."""
        log = open(self.tmp_path / f"agent-{port}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(self.command("agent", "--port", str(port)), stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        self._procs.append(proc)

        _wait_answering(proc, self.tmp_path / f"agent-{port}.log",
                        f"http://127.0.0.1:{port}/v1/status", f"the agent on port {port}")
        return proc

    def start_api(self, token: str | None = None, **options: object) -> str:
        """Start ``orchestrator api`` on a free port; return its base URL once it answers.

        With ``token`` the API requires it as a bearer token; without, it runs
        with noauth. ``options`` override its [api] group.
        """
        port = find_free_port()
        settings = {"auth_strategy": "token" if token else "noauth", **options}
        if token:
            settings["tokens"] = token
        extra = self.tmp_path / f"api-{port}.conf"
        extra.write_text("[api]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
        log_path = self.tmp_path / f"api-{port}.log"
        log = open(log_path, "wb")  # noqa: SIM115
        proc = subprocess.Popen(
            self.command("--config-file", str(extra), "api", "--port", str(port)),
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self._procs.append(proc)
        url = f"http://127.0.0.1:{port}"

        _wait_answering(proc, log_path, f"{url}/v1", f"the API on port {port}")
        return url

    def post(self, flow: str, store: dict[str, object]) -> str:
        """``orchestrator post`` the flow with the store; the new job's id."""
        result = self.run("post", flow, "--store-json", json.dumps(store))
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    def wait_state(self, job_id: str, state: str, timeout: float = 90) -> None:
        wait_for(lambda: job_row(self.db_url, job_id)["state"] == state, timeout=timeout,
                 message=f"job {job_id} to end {state}")

    def conductor_log(self, name: str) -> str:
        return (self.tmp_path / f"conductor-{name}.log").read_text()

    def stop_all(self) -> None:
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)


@pytest.fixture
def deployment(tmp_path: Path, db_url: str, zk_hosts: str,
               jobboard_path: str) -> Iterator[Deployment]:
    dep = Deployment(tmp_path, db_url, zk_hosts, jobboard_path)
    result = dep.run("db", "upgrade")
    assert result.returncode == 0, result.stderr
    try:
        yield dep
    finally:
        dep.stop_all()


def _wait_answering(proc: subprocess.Popen[bytes], log: Path, url: str, what: str) -> None:
    def answers() -> bool:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(url, timeout=1).is_success
        except httpx.HTTPError:
            return False

    wait_for(answers, timeout=60, message=what)


def wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> int:
    wait_for(lambda: proc.poll() is not None, timeout=timeout,
             message=f"process {proc.pid} did not exit")
    return int(proc.returncode)


def kill9(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def job_row(db_url: str, job_id: str) -> dict[str, object]:
    """The job's record as the operator sees it (read straight from the database)."""
    db = persistence.Database(db_url)
    try:
        with db.session() as session:
            record = persistence.get_job(session, job_id)
    finally:
        db.close()
    assert record is not None, f"no record for job {job_id}"
    return {"state": record.state.value, "attempts": record.attempts,
            "owner": record.owner, "error": record.last_error}
