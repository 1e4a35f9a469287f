"""Standalone mode: a whole deployment on one machine, for a first look and for demos.

A real ZooKeeper on 127.0.0.1 with its data in the state directory, an SQLite
file beside it, the migrations, and a conductor process; optionally the demo
jobs. Everything started here is stopped on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import persistence
from orchestrator.errors import OrchestratorError
from orchestrator.standalone.zookeeper import LocalZooKeeper

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
        self._conductor: subprocess.Popen[bytes] | None = None

    @property
    def config_path(self) -> Path:
        return self.settings.state_dir / "standalone.conf"

    @property
    def conductor_log(self) -> Path:
        return self.settings.state_dir / "conductor.log"

    def config_files(self) -> list[str]:
        """Config files that point a command at this standalone deployment."""
        return [*self.settings.config_files, str(self.config_path)]

    def start(self) -> None:
        state = self.settings.state_dir
        state.mkdir(parents=True, exist_ok=True)
        self._echo(f"Starting ZooKeeper on 127.0.0.1:{self.settings.zookeeper_port} ...")
        self.zookeeper.start()
        self.config_path.write_text(
            "# Written by 'orchestrator standalone'; pass it to other commands with\n"
            "# --config-file to use this deployment.\n"
            f"[DEFAULT]\nstate_path = {state}\n"
            f"[jobboard]\nhosts = {self.zookeeper.hosts}\npath = {BOARD_PATH}\n"
            f"[database]\nconnection = {self.settings.database_url}\n"
        )
        database = persistence.Database(self.settings.database_url)
        try:
            database.upgrade()
        finally:
            database.close()
        self._echo("Starting a conductor ...")
        command = [sys.executable, "-m", "orchestrator.cli.main"]
        for path in self.config_files():
            command += ["--config-file", path]
        command += ["-v", "conductor", "--name", CONDUCTOR_NAME]
        with open(self.conductor_log, "ab") as log:
            self._conductor = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL)

    def conductor_alive(self) -> bool:
        return self._conductor is not None and self._conductor.poll() is None

    def serve_until_stopped(self) -> int:
        """Block until Ctrl-C, SIGTERM or a closed terminal (0), or a child dies (1)."""
        stop = threading.Event()

        def _on_signal(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        previous = {sig: signal.signal(sig, _on_signal)
                    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            while not stop.wait(0.5):
                if not self.conductor_alive():
                    self._echo(f"The conductor exited; see {self.conductor_log}")
                    return 1
                if not self.zookeeper.is_running():
                    self._echo(f"ZooKeeper exited; see {self.zookeeper.log_path}")
                    return 1
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def stop(self) -> None:
        """Stop the conductor (its jobs are suspended and handed back), then ZooKeeper."""
        proc, self._conductor = self._conductor, None
        if proc is not None and proc.poll() is None:
            self._echo("Stopping the conductor ...")
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if self.zookeeper.is_running():
            self._echo("Stopping ZooKeeper ...")
        self.zookeeper.stop()

    def __enter__(self) -> Standalone:
        return self

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(OrchestratorError):
            self.stop()
