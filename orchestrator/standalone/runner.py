"""Standalone mode: a whole deployment on one machine, for a first look and for demos.

A real ZooKeeper on 127.0.0.1 with its data in the state directory, an SQLite
file beside it, the migrations, a conductor process and the API (with the web
page) without authentication on 127.0.0.1; optionally the demo jobs.
Everything started here is stopped on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

import persistence
from orchestrator import httpserver
from orchestrator.errors import OrchestratorError
from orchestrator.standalone.processes import interrupts_deferred
from orchestrator.standalone.zookeeper import LocalZooKeeper

#: Seconds the API gets to answer after it was started.
API_START_TIMEOUT = 60.0

CONDUCTOR_NAME = "standalone-conductor"
BOARD_PATH = "/orchestrator/jobs"


@dataclass(frozen=True)
class StandaloneSettings:
    state_dir: Path
    database_url: str
    zookeeper_port: int = 2181
    zookeeper_install_dir: Path | None = None
    java: str | None = None
    config_files: Sequence[str] = ()
    api_host: str = "127.0.0.1"
    api_port: int = 8080


class Standalone:
    """Starts and stops the local services; knows where everything is."""

    def __init__(self, settings: StandaloneSettings, echo: Callable[[str], None]) -> None:
        self.settings = settings
        self._echo = echo
        self.zookeeper = LocalZooKeeper(
            settings.state_dir / "zookeeper",
            port=settings.zookeeper_port,
            java=settings.java,
            install_dir=settings.zookeeper_install_dir,
        )
        # name -> (process, its log), in the order they were started.
        self._children: dict[str, tuple[subprocess.Popen[bytes], Path]] = {}
        self._lock: int | None = None

    @property
    def lock_path(self) -> Path:
        return self.settings.state_dir / "standalone.lock"

    def _lock_state_dir(self) -> None:
        """Hold the state directory for as long as this process runs.

        Two deployments on one SQLite file and one ZooKeeper data directory
        would each rewrite the other's standalone.conf. The lock is the
        kernel's (it goes with the process, however it ends); the file says
        who holds it.
        """
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise OrchestratorError(
                f"state directory {self.settings.state_dir} is in use by another "
                f"'orchestrator standalone' ({self._holder()}); stop it first, or give "
                "this one another --state-dir") from None
        holder = {"pid": os.getpid(), "zookeeper_port": self.settings.zookeeper_port,
                  "api": self.api_url}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        self._lock = fd

    def _holder(self) -> str:
        try:
            holder = json.loads(self.lock_path.read_text())
            return (f"pid {holder['pid']}, ZooKeeper on port {holder['zookeeper_port']}, "
                    f"API on {holder['api']}")
        except (OSError, ValueError, KeyError, TypeError):
            return "its pid unknown"

    @property
    def api_url(self) -> str:
        return httpserver.url(self.settings.api_host, self.settings.api_port)

    @property
    def api_log(self) -> Path:
        return self.settings.state_dir / "api.log"

    @property
    def config_path(self) -> Path:
        return self.settings.state_dir / "standalone.conf"

    @property
    def conductor_log(self) -> Path:
        return self.settings.state_dir / "conductor.log"

    def config_files(self) -> list[str]:
        """Config files that point a command at this standalone deployment."""
        return [str(self.config_path)]

    def _carried_config(self) -> str:
        """The config files standalone was given, copied in: the deployment's own
        settings follow and win, but what else they set ([flows] directory...)
        reaches every command pointed at standalone.conf."""
        carried = []
        for path in self.settings.config_files:
            if Path(path).resolve() == self.config_path.resolve():
                continue  # standalone.conf given back to us: its settings are rewritten
            text = Path(path).read_text()
            carried.append(f"# --- from {path} ---\n{text.rstrip()}\n# --- end of {path} ---\n")
        return "".join(carried)

    def start(self) -> None:
        state = self.settings.state_dir
        state.mkdir(parents=True, exist_ok=True)
        self._lock_state_dir()
        self._echo(f"Starting ZooKeeper on 127.0.0.1:{self.settings.zookeeper_port} ...")
        self.zookeeper.start()
        self.config_path.write_text(
            "# Written by 'orchestrator standalone'; pass it to other commands with\n"
            "# --config-file to use this deployment.\n"
            + self._carried_config()
            + f"[DEFAULT]\nstate_path = {state}\n"
            f"[jobboard]\nhosts = {self.zookeeper.hosts}\npath = {BOARD_PATH}\n"
            f"[database]\nconnection = {self.settings.database_url}\n"
            # Only this machine can reach it, and a first look needs no token.
            f"[api]\nauth_strategy = noauth\nhost = {self.settings.api_host}\n"
            f"port = {self.settings.api_port}\n"
            # Read-only commands ask the API, which has everything open already:
            # they answer in a fraction of the time (the database if it is down).
            f"[cli]\napi_url = {self.api_url}\n"
        )
        database = persistence.Database(self.settings.database_url)
        try:
            database.upgrade()
        finally:
            database.close()
        self._check_api_port()
        self._echo("Starting a conductor ...")
        self._spawn("conductor", self.conductor_log,
                    ["-v", "conductor", "--name", CONDUCTOR_NAME])
        self._echo(f"Starting the API and web page on {self.api_url} ...")
        self._spawn("API", self.api_log,
                    ["-v", "api", "--host", self.settings.api_host,
                     "--port", str(self.settings.api_port)])
        self._wait_for_api()

    def conductor_alive(self) -> bool:
        return self._alive("conductor")

    def _alive(self, name: str) -> bool:
        proc = self._children.get(name, (None, None))[0]
        return proc is not None and proc.poll() is None

    def _spawn(self, name: str, log_path: Path, args: list[str]) -> None:
        command = [sys.executable, "-m", "orchestrator.cli.main"]
        for path in self.config_files():
            command += ["--config-file", path]
        with open(log_path, "ab") as log, interrupts_deferred():
            proc = subprocess.Popen([*command, *args], stdout=log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            self._children[name] = (proc, log_path)

    def _check_api_port(self) -> None:
        try:
            httpserver.bind("API", self.settings.api_host, self.settings.api_port).close()
        except httpserver.ListenError as exc:
            raise OrchestratorError(
                f"port {exc.port} on {exc.host} for the API: {exc.reason}; choose "
                "another with --api-port") from exc

    def _wait_for_api(self) -> None:
        deadline = time.monotonic() + API_START_TIMEOUT
        while time.monotonic() < deadline:
            if not self._alive("API"):
                raise OrchestratorError(f"the API exited at start; see {self.api_log}")
            try:
                if httpx.get(f"{self.api_url}/v1", timeout=1).is_success:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)  # poll interval while the API starts
        raise OrchestratorError(f"the API did not answer within {API_START_TIMEOUT:g}s; "
                                f"see {self.api_log}")

    def serve_until_stopped(self, on_ready: Callable[[], None] | None = None) -> int:
        """Block until Ctrl-C, SIGTERM or a closed terminal (0), or a child dies (1).

        ``on_ready`` (announcing that it serves) is called once the stop signals are
        handled here, so a Ctrl-C after the announcement is never missed; launched
        in the background by a script, the process starts with SIGINT ignored.
        """
        received: list[int] = []

        def _on_signal(signum: int, _frame: FrameType | None) -> None:
            # No lock here: the handler runs in the main thread, possibly inside
            # an Event.wait() holding the very lock Event.set() would take.
            received.append(signum)

        previous = {sig: signal.signal(sig, _on_signal)
                    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            if on_ready is not None:
                on_ready()
            while True:
                time.sleep(0.2)  # the handler runs during the sleep
                failure = None if received else self._failed_service()
                # Asked again after looking: a Ctrl-C reaches the children too,
                # and one that exited because of it is no failure.
                if received:
                    return 0
                if failure is not None:
                    self._echo(failure)
                    return 1
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _failed_service(self) -> str | None:
        for name, (proc, log_path) in self._children.items():
            if proc.poll() is not None:
                return f"The {name} exited; see {log_path}"
        if not self.zookeeper.is_running():
            return f"ZooKeeper exited; see {self.zookeeper.log_path}"
        return None

    def stop(self) -> None:
        """Stop the API and the conductor (its jobs are suspended and handed back),
        then ZooKeeper."""
        children, self._children = self._children, {}
        for name, (proc, _log) in reversed(children.items()):
            if proc.poll() is None:
                self._echo(f"Stopping the {name} ...")
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        if self.zookeeper.is_running():
            self._echo("Stopping ZooKeeper ...")
        self.zookeeper.stop()
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> Standalone:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_rest: object) -> None:
        # After a Ctrl-C, a second one must not cut the stopping short and
        # leave ZooKeeper or a child running.
        previous = (signal.signal(signal.SIGINT, signal.SIG_IGN)
                    if exc_type is KeyboardInterrupt else None)
        try:
            with contextlib.suppress(OrchestratorError):
                self.stop()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
