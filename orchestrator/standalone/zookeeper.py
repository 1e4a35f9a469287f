"""Run a standalone ZooKeeper server from Debian's jars (or an unpacked release).

The server is started directly with ``java ... QuorumPeerMain zoo.cfg`` rather than
through ``zkServer.sh`` or the init scripts, so it needs no root, no systemd and no
files outside ``data_dir``; it runs in its own process group so that stopping it
cannot leave a JVM behind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from orchestrator.errors import OrchestratorError

INSTALL_HINT = "apt-get install -y zookeeper"
MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
DEBIAN_CONF_DIR = Path("/etc/zookeeper/conf")
DEBIAN_JAR_DIR = Path("/usr/share/java")
# zookeeper.jar's manifest names its other dependencies; the logging backend it does
# not name, and without one the server logs nothing (and a failed start says nothing).
DEBIAN_SERVER_JAR = "zookeeper.jar"
DEBIAN_LOGGING_JARS = ("slf4j-log4j12.jar", "log4j-1.2.jar")
LOG_FILE_NAME = "zookeeper.log"
CONFIG_FILE_NAME = "zoo.cfg"
_POLL_INTERVAL = 0.1
_LOG_TAIL_LINES = 30


class ZooKeeperError(OrchestratorError):
    """The local ZooKeeper server could not be run."""


class ZooKeeperUnavailable(ZooKeeperError):
    """Java or the ZooKeeper jars are not installed: apt-get install -y zookeeper."""


class ZooKeeperStartError(ZooKeeperError):
    """The ZooKeeper server did not start (port in use, early exit or timeout)."""

    retryable = True  # the port may free up, a slow machine may make it next time


def find_free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def four_letter_word(host: str, port: int, word: str, timeout: float = 2.0) -> str:
    """Send a four-letter command (``ruok``, ``srvr``, ``mntr``) and return the reply.

    Raises ``OSError`` when the server cannot be reached.
    """
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(word.encode("ascii"))
        chunks: list[bytes] = []
        while chunk := sock.recv(4096):  # the server closes after replying
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


class LocalZooKeeper:
    """A single-node ZooKeeper server on ``host:port``, its data in ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        port: int = 2181,
        host: str = "127.0.0.1",
        tick_time_ms: int = 250,
        min_session_timeout_ms: int = 500,
        max_session_timeout_ms: int = 30000,
        java: str | None = None,
        install_dir: Path | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.host = host
        self.tick_time_ms = tick_time_ms
        self.min_session_timeout_ms = min_session_timeout_ms
        self.max_session_timeout_ms = max_session_timeout_ms
        self.java = java
        self.install_dir = install_dir
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def hosts(self) -> str:
        """Connection string for kazoo / TaskFlow, e.g. ``127.0.0.1:2181``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of the JVM while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    @property
    def config_path(self) -> Path:
        return self.data_dir / CONFIG_FILE_NAME

    @property
    def log_path(self) -> Path:
        return self.data_dir / LOG_FILE_NAME

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and return once it answers ``ruok`` with ``imok``."""
        if self.is_running():
            raise ZooKeeperStartError(f"ZooKeeper on {self.hosts} is already running")
        command = self._command()  # raises ZooKeeperUnavailable before touching disk
        self._check_port_free()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self._config_text(), encoding="utf-8")
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                start_new_session=True,  # own process group: stop() kills all of it
            )
        try:
            self._wait_until_ready(timeout, log_offset)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL after ``timeout``. Idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            self._signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(process, signal.SIGKILL)
                process.wait()

    def __enter__(self) -> LocalZooKeeper:
        if not self.is_running():
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _command(self) -> list[str]:
        return [
            self._java_executable(),
            "-Xmx256m",
            "-Djava.awt.headless=true",
            "-Dzookeeper.root.logger=INFO,CONSOLE",
            f"-Dzookeeper.log.dir={self.data_dir}",
            "-cp",
            os.pathsep.join(self._classpath()),
            MAIN_CLASS,
            str(self.config_path),
        ]

    def _java_executable(self) -> str:
        java = self.java or "java"
        found = shutil.which(java)
        if found is None:
            raise ZooKeeperUnavailable(
                f"Java executable {java!r} not found. Install ZooKeeper, which pulls "
                f"in Java: {INSTALL_HINT}"
            )
        return found

    def _classpath(self) -> list[str]:
        if self.install_dir is not None:
            jars = sorted(str(p) for p in (self.install_dir / "lib").glob("*.jar"))
            if not any("zookeeper" in Path(jar).name for jar in jars):
                raise ZooKeeperUnavailable(
                    f"No ZooKeeper jars in {self.install_dir / 'lib'}. Unpack a "
                    f"ZooKeeper binary release there, or use Debian's: {INSTALL_HINT}"
                )
            return [str(self.install_dir / "conf"), *jars]
        server_jar = DEBIAN_JAR_DIR / DEBIAN_SERVER_JAR
        if not server_jar.is_file():
            raise ZooKeeperUnavailable(
                f"ZooKeeper jar {server_jar} not found. Install it (this pulls in "
                f"Java): {INSTALL_HINT}"
            )
        logging_jars = [DEBIAN_JAR_DIR / name for name in DEBIAN_LOGGING_JARS]
        return [
            str(DEBIAN_CONF_DIR),
            str(server_jar),
            *(str(jar) for jar in logging_jars if jar.is_file()),
        ]

    def _config_text(self) -> str:
        settings = {
            "dataDir": str(self.data_dir),
            "clientPort": str(self.port),
            "clientPortAddress": self.host,
            "tickTime": str(self.tick_time_ms),
            # The server clamps client session timeouts into this range; the defaults
            # (2 and 20 ticks) would refuse the short sessions fast failover needs.
            "minSessionTimeout": str(self.min_session_timeout_ms),
            "maxSessionTimeout": str(self.max_session_timeout_ms),
            "admin.enableServer": "false",
            "4lw.commands.whitelist": "ruok,srvr,mntr",
            # Keep a long-lived standalone server's snapshots and logs from growing
            # forever.
            "autopurge.snapRetainCount": "3",
            "autopurge.purgeInterval": "1",
        }
        lines = [f"{key}={value}" for key, value in settings.items()]
        return "# Written by orchestrator.standalone; rewritten on every start.\n" + (
            "\n".join(lines) + "\n"
        )

    def _check_port_free(self) -> None:
        # SO_REUSEADDR as the server uses it: TIME_WAIT leftovers of an earlier run
        # do not count as "in use", a listening socket does.
        with socket.socket(_family(self.host), socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self.port))
            except OSError as exc:
                raise ZooKeeperStartError(
                    f"Cannot start ZooKeeper: port {self.port} on {self.host} is "
                    f"already in use ({exc.strerror}); choose another port or stop "
                    "what listens there"
                ) from exc

    def _wait_until_ready(self, timeout: float, log_offset: int) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise ZooKeeperStartError(
                    f"ZooKeeper exited with code {self._process.returncode} before "
                    f"becoming ready on {self.hosts}; last lines of {self.log_path}:\n"
                    + self._log_tail(log_offset)
                )
            with contextlib.suppress(OSError):
                if four_letter_word(self.host, self.port, "ruok", 1.0) == "imok":
                    return
            if time.monotonic() >= deadline:
                raise ZooKeeperStartError(
                    f"ZooKeeper on {self.hosts} did not answer 'ruok' within "
                    f"{timeout:g}s; last lines of {self.log_path}:\n"
                    + self._log_tail(log_offset)
                )
            # Waiting on the process doubles as the poll interval and notices an
            # early exit at once.
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=_POLL_INTERVAL)

    def _log_tail(self, offset: int) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                text = log.read().decode("utf-8", "replace")
        except OSError as exc:
            return f"(log unreadable: {exc})"
        lines = text.splitlines()[-_LOG_TAIL_LINES:]
        return "\n".join(lines) if lines else "(log is empty)"

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
