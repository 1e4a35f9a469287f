"""Run a standalone ZooKeeper server from Debian's jars (or an unpacked release),
or a small ensemble of them on one machine for failover tests.

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
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType

from orchestrator.errors import OrchestratorError
from orchestrator.standalone.processes import interrupts_deferred

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
#: ``srvr`` modes of an ensemble member that is part of a quorum.
QUORUM_MODES = frozenset({"leader", "follower"})
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
        max_heap: str = "256m",
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port
        self.host = host
        self.tick_time_ms = tick_time_ms
        self.min_session_timeout_ms = min_session_timeout_ms
        self.max_session_timeout_ms = max_session_timeout_ms
        self.java = java
        self.install_dir = install_dir
        # -Xmx of the JVM: an ensemble on one small machine runs three of them.
        self.max_heap = max_heap
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
        with self.log_path.open("ab") as log, interrupts_deferred():
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
            # A paused (SIGSTOPped) server would hold the SIGTERM until the timeout.
            self._signal_group(process, signal.SIGCONT)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(process, signal.SIGKILL)
                process.wait()

    def kill(self) -> None:
        """Kill the server with SIGKILL, as a crash would; returns once it is gone."""
        process, self._process = self._process, None
        if process is None:
            return
        self._signal_group(process, signal.SIGKILL)
        process.wait()

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): its port still accepts, nothing answers."""
        if self._process is None or self._process.poll() is not None:
            raise ZooKeeperError(f"ZooKeeper on {self.hosts} is not running")
        self._signal_group(self._process, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again (SIGCONT); harmless if it was not paused."""
        if self._process is not None:
            self._signal_group(self._process, signal.SIGCONT)

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
            f"-Xmx{self.max_heap}",
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
            "4lw.commands.whitelist": "ruok,srvr,mntr,cons",
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


def server_mode(host: str, port: int, timeout: float = 1.0) -> str | None:
    """The ``Mode:`` a server reports through ``srvr`` (``leader``, ``follower``,
    ``standalone``), or ``None`` while it does not serve or cannot be reached."""
    try:
        reply = four_letter_word(host, port, "srvr", timeout)
    except OSError:
        return None
    for line in reply.splitlines():
        if line.startswith("Mode:"):
            return line.partition(":")[2].strip()
    return None  # "This ZooKeeper instance is not currently serving requests"


class ZooKeeperMember(LocalZooKeeper):
    """One server of a :class:`LocalZooKeeperEnsemble`: its ``myid`` and its peers."""

    def __init__(
        self,
        data_dir: Path,
        *,
        myid: int,
        port: int,
        peer_port: int,
        election_port: int,
        peers: Sequence[str],
        init_limit_ticks: int,
        sync_limit_ticks: int,
        host: str = "127.0.0.1",
        tick_time_ms: int = 250,
        min_session_timeout_ms: int = 500,
        max_session_timeout_ms: int = 30000,
        java: str | None = None,
        install_dir: Path | None = None,
        max_heap: str = "128m",
    ) -> None:
        super().__init__(
            data_dir,
            port=port,
            host=host,
            tick_time_ms=tick_time_ms,
            min_session_timeout_ms=min_session_timeout_ms,
            max_session_timeout_ms=max_session_timeout_ms,
            java=java,
            install_dir=install_dir,
            max_heap=max_heap,
        )
        self.myid = myid
        self.peer_port = peer_port
        self.election_port = election_port
        self.peers = tuple(peers)
        self.init_limit_ticks = init_limit_ticks
        self.sync_limit_ticks = sync_limit_ticks

    def __repr__(self) -> str:
        return f"<ZooKeeperMember {self.myid} on {self.hosts}>"

    @property
    def mode(self) -> str | None:
        """``leader`` or ``follower`` while it serves, else ``None``."""
        return server_mode(self.host, self.port)

    @property
    def exit_code(self) -> int | None:
        """Exit code of a JVM that died by itself (stop() and kill() forget theirs)."""
        return self._process.poll() if self._process is not None else None

    def log_tail(self) -> str:
        """The last lines of its log, for error messages."""
        return self._log_tail(0)

    def serves(self) -> bool:
        """True once it is part of a quorum (leader or follower)."""
        return self.mode in QUORUM_MODES

    def start(self, timeout: float = 30.0) -> None:
        """Start the JVM; returns once it answers ``ruok``, which it does before it
        has found a quorum (see :meth:`LocalZooKeeperEnsemble.wait_for_quorum`)."""
        self._command()  # raises ZooKeeperUnavailable before touching disk
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "myid").write_text(f"{self.myid}\n", encoding="ascii")
        super().start(timeout)

    def _config_text(self) -> str:
        lines = [
            # Ticks a follower may take to connect and sync to a leader, and to lag
            # behind it; generous so that a busy two-core machine does not flap.
            f"initLimit={self.init_limit_ticks}",
            f"syncLimit={self.sync_limit_ticks}",
            *self.peers,
        ]
        return super()._config_text() + "\n".join(lines) + "\n"


class LocalZooKeeperEnsemble:
    """``size`` ZooKeeper servers on ``host`` forming one quorum, for failover tests.

    Each member has its own directory under ``base_dir`` (``member-<myid>``) with its
    ``myid``, its log and its data, and its own client, peer and election ports
    (free ports unless ``ports`` gives ``(client, peer, election)`` per member).
    """

    def __init__(
        self,
        base_dir: Path,
        size: int = 3,
        host: str = "127.0.0.1",
        ports: Sequence[tuple[int, int, int]] | None = None,
        tick_time_ms: int = 250,
        min_session_timeout_ms: int = 500,
        max_session_timeout_ms: int = 30000,
        init_limit_ticks: int = 40,
        sync_limit_ticks: int = 20,
        java: str | None = None,
        install_dir: Path | None = None,
        max_heap: str = "128m",
    ) -> None:
        if size < 1:
            raise ValueError("an ensemble needs at least one member")
        self.base_dir = Path(base_dir)
        self.host = host
        if ports is None:
            ports = _distinct_free_ports(host, size)
        if len(ports) != size:
            raise ValueError(f"{size} members need {size} port triples, not {len(ports)}")
        address = f"[{host}]" if ":" in host else host
        peers = [
            f"server.{myid}={address}:{peer}:{election}"
            for myid, (_client, peer, election) in enumerate(ports, start=1)
        ]
        self.members: tuple[ZooKeeperMember, ...] = tuple(
            ZooKeeperMember(
                self.base_dir / f"member-{myid}",
                myid=myid,
                port=client,
                peer_port=peer,
                election_port=election,
                peers=peers,
                init_limit_ticks=init_limit_ticks,
                sync_limit_ticks=sync_limit_ticks,
                host=host,
                tick_time_ms=tick_time_ms,
                min_session_timeout_ms=min_session_timeout_ms,
                max_session_timeout_ms=max_session_timeout_ms,
                java=java,
                install_dir=install_dir,
                max_heap=max_heap,
            )
            for myid, (client, peer, election) in enumerate(ports, start=1)
        )

    @property
    def hosts(self) -> str:
        """Every member's ``host:port``, comma-separated, for kazoo / TaskFlow."""
        return ",".join(member.hosts for member in self.members)

    def member(self, myid: int) -> ZooKeeperMember:
        """The member whose ``myid`` is ``myid`` (1-based, as in ``server.N``)."""
        for member in self.members:
            if member.myid == myid:
                return member
        raise KeyError(f"no member with myid {myid}")

    def start(self, timeout: float = 60.0) -> None:
        """Start every member; returns once each serves as leader or follower."""
        deadline = time.monotonic() + timeout
        try:
            for member in self.members:
                if not member.is_running():
                    member.start(max(deadline - time.monotonic(), 1.0))
            self.wait_for_quorum(max(deadline - time.monotonic(), 1.0))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every member. Idempotent."""
        for member in self.members:
            member.stop()

    def leader(self) -> ZooKeeperMember | None:
        """The member that reports itself leader right now, if any."""
        for member in self.members:
            if member.is_running() and member.mode == "leader":
                return member
        return None

    def kill(self, member: ZooKeeperMember | int) -> ZooKeeperMember:
        """``kill -9`` one member's JVM; returns that member."""
        target = self._resolve(member)
        target.kill()
        return target

    def pause(self, member: ZooKeeperMember | int) -> ZooKeeperMember:
        """Freeze one member (SIGSTOP): peers and clients time out on it."""
        target = self._resolve(member)
        target.pause()
        return target

    def resume(self, member: ZooKeeperMember | int) -> ZooKeeperMember:
        """Thaw a paused member (SIGCONT)."""
        target = self._resolve(member)
        target.resume()
        return target

    def start_member(self, member: ZooKeeperMember | int, timeout: float = 60.0) -> None:
        """Start one stopped or killed member again; returns once it serves."""
        target = self._resolve(member)
        deadline = time.monotonic() + timeout
        target.start(timeout)
        self._wait(
            target.serves, deadline, f"member {target.myid} ({target.hosts}) to join"
        )

    def wait_for_quorum(self, timeout: float = 60.0) -> ZooKeeperMember:
        """Wait until every running member serves and one leads; returns the leader."""
        deadline = time.monotonic() + timeout

        def settled() -> bool:
            running = [member for member in self.members if member.is_running()]
            modes = [member.mode for member in running]
            return bool(running) and all(m in QUORUM_MODES for m in modes) and (
                modes.count("leader") == 1
            )

        self._wait(settled, deadline, "a quorum with one leader")
        leader = self.leader()
        if leader is None:  # lost it again between the two looks
            raise ZooKeeperStartError("the ensemble lost its leader while starting")
        return leader

    def __enter__(self) -> LocalZooKeeperEnsemble:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _resolve(self, member: ZooKeeperMember | int) -> ZooKeeperMember:
        return self.member(member) if isinstance(member, int) else member

    def _wait(self, condition: Callable[[], bool], deadline: float, what: str) -> None:
        while not condition():
            for member in self.members:
                if (code := member.exit_code) is not None:
                    raise ZooKeeperStartError(
                        f"ZooKeeper member {member.myid} exited with code {code}; "
                        f"last lines of {member.log_path}:\n" + member.log_tail()
                    )
            if time.monotonic() >= deadline:
                modes = ", ".join(f"{m.myid}={m.mode}" for m in self.members)
                raise ZooKeeperStartError(
                    f"timed out waiting for {what} (modes: {modes}); logs in "
                    f"{self.base_dir}"
                )
            time.sleep(_POLL_INTERVAL)


def _distinct_free_ports(host: str, size: int) -> list[tuple[int, int, int]]:
    # find_free_port releases each port at once, so two calls may return the same one.
    ports: list[int] = []
    while len(ports) < 3 * size:
        port = find_free_port(host)
        if port not in ports:
            ports.append(port)
    return [(ports[i], ports[i + 1], ports[i + 2]) for i in range(0, 3 * size, 3)]


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
