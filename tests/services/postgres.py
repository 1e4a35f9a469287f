"""A throwaway PostgreSQL cluster for tests, from Debian's packaged binaries.

``initdb`` refuses to run as root, so when the tests run as root every server command
runs as the ``postgres`` user (``runuser``) and ``base_dir`` is handed to that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg import sql

INSTALL_HINT = "apt-get install -y postgresql"
SERVER_USER = "postgres"
_BIN_GLOB = "/usr/lib/postgresql/*/bin"


class PostgresUnavailable(Exception):
    """PostgreSQL binaries or the postgres user are missing; retrying will not help."""


class PostgresStartError(Exception):
    """The PostgreSQL cluster could not be created or started."""


def find_bin_dir() -> Path:
    """Newest ``/usr/lib/postgresql/<version>/bin`` that has initdb and pg_ctl."""
    candidates = [
        p
        for p in Path("/").glob(_BIN_GLOB.lstrip("/"))
        if (p / "initdb").is_file() and (p / "pg_ctl").is_file()
    ]
    if not candidates:
        raise PostgresUnavailable(
            f"No PostgreSQL server binaries under {_BIN_GLOB}; install: {INSTALL_HINT}"
        )
    return max(candidates, key=lambda p: _version_key(p.parent.name))


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


class LocalPostgres:
    """A PostgreSQL cluster in ``base_dir`` listening on ``127.0.0.1:port``.

    ``base_dir`` and all its parents must be reachable by the ``postgres`` user when
    running as root (pytest's own tmp directories are not: they are mode 0700).

    ``crash_safe`` keeps every committed transaction across :meth:`stop`, which is a
    crash (``--mode=immediate``): tests that stop the server mid-run need it. Without
    it, commits return before their WAL is written, which is quicker and loses the
    last fraction of a second of commits in such a stop.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        base_dir: Path,
        port: int,
        bin_dir: Path | None = None,
        *,
        crash_safe: bool = False,
    ) -> None:
        self.base_dir = Path(base_dir)
        self.port = port
        self._bin_dir = bin_dir
        self.crash_safe = crash_safe
        self.data_dir = self.base_dir / "data"
        self.socket_dir = self.base_dir / "sockets"
        self.log_path = self.base_dir / "postgres.log"

    @property
    def bin_dir(self) -> Path:
        if self._bin_dir is None:
            self._bin_dir = find_bin_dir()
        elif not (self._bin_dir / "pg_ctl").is_file():
            raise PostgresUnavailable(
                f"No pg_ctl in {self._bin_dir}; install: {INSTALL_HINT}"
            )
        return self._bin_dir

    def start(self, timeout: float = 60.0) -> None:
        """Create the cluster if needed and start it; returns once it accepts."""
        bin_dir = self.bin_dir
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self._hand_over(self.base_dir, self.socket_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                bin_dir / "initdb",
                f"--pgdata={self.data_dir}",
                f"--username={SERVER_USER}",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            )
        options = " ".join(
            [
                f"-c listen_addresses={self.host}",
                f"-p {self.port}",
                f"-c unix_socket_directories={self.socket_dir}",
                # Throwaway data: surviving an OS crash is not worth the flushes. Only
                # the server process ever crashes here, and the kernel keeps what it
                # was given: fsync and full-page writes guard against more than that.
                "-c fsync=off",
                f"-c synchronous_commit={'on' if self.crash_safe else 'off'}",
                "-c full_page_writes=off",
            ]
        )
        try:
            self._run(
                bin_dir / "pg_ctl",
                f"--pgdata={self.data_dir}",
                f"--log={self.log_path}",
                "--wait",
                f"--timeout={int(timeout)}",
                f"--options={options}",
                "start",
            )
        except PostgresStartError:
            # A server that started but missed the deadline must not outlive us.
            with contextlib.suppress(PostgresStartError):
                self.stop()
            raise

    def stop(self) -> None:
        """Stop at once, like a crash: no checkpoint, the next :meth:`start` recovers
        from the WAL. Returns once the postmaster is gone. Idempotent."""
        if not (self.data_dir / "postmaster.pid").exists():
            return
        pid = self.pid
        pg_ctl = self.bin_dir / "pg_ctl"
        self._run(
            pg_ctl, f"--pgdata={self.data_dir}", "--mode=immediate", "--wait", "stop"
        )
        # pg_ctl returns once the pid file is gone, which the postmaster removes just
        # before it exits: wait for the exit itself.
        if pid is not None:
            self._wait_gone(pid, timeout=10.0)

    @property
    def pid(self) -> int | None:
        """Process id of the postmaster while its pid file exists."""
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0]
        except OSError:  # no pid file, or (as root) a data dir we may not read yet
            return None
        return int(first_line) if first_line.strip().isdigit() else None

    def is_running(self) -> bool:
        """True while the postmaster process exists."""
        pid = self.pid
        return pid is not None and _process_alive(pid)

    def url_for(self, dbname: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) for database ``dbname``."""
        return f"postgresql+psycopg://{SERVER_USER}@{self.host}:{self.port}/{dbname}"

    def conninfo_for(self, dbname: str) -> str:
        """libpq connection string for psycopg itself."""
        return f"host={self.host} port={self.port} user={SERVER_USER} dbname={dbname}"

    def create_database(self, name: str) -> None:
        with self._admin_connection() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def drop_database(self, name: str) -> None:
        # FORCE: a test that leaked a connection pool must not keep its database.
        with self._admin_connection() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )

    def _admin_connection(self) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(self.conninfo_for("postgres"), autocommit=True)

    def _run(self, *command: str | Path) -> None:
        args = [str(part) for part in command]
        if os.geteuid() == 0:
            args = ["runuser", "-u", SERVER_USER, "--", *args]
        # cwd: the postgres user may not be able to enter the caller's directory.
        result = subprocess.run(
            args,
            cwd=self.base_dir,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresStartError(
                f"{' '.join(args)} failed with code {result.returncode}:\n"
                f"{result.stdout}{result.stderr}{self._log_tail()}"
            )

    def _wait_gone(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while _process_alive(pid):
            if time.monotonic() >= deadline:
                raise PostgresStartError(
                    f"postmaster {pid} still runs {timeout:g}s after pg_ctl stop"
                )
            time.sleep(0.01)  # poll interval

    def _log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return f"last lines of {self.log_path}:\n" + "\n".join(
            text.splitlines()[-lines:]
        )

    @staticmethod
    def _hand_over(*paths: Path) -> None:
        if os.geteuid() != 0:
            return
        try:
            user = pwd.getpwnam(SERVER_USER)
        except KeyError as exc:
            raise PostgresUnavailable(
                f"No {SERVER_USER!r} user to run PostgreSQL as; install: {INSTALL_HINT}"
            ) from exc
        for path in paths:
            shutil.chown(path, user.pw_uid, user.pw_gid)


def _process_alive(pid: int) -> bool:
    # A zombie has exited (and released its ports); only its parent has yet to reap it.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"
