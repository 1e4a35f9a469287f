"""The services a benchmark run needs: one ZooKeeper, one PostgreSQL, fresh databases.

Both servers are started from Debian's packages in a temporary directory and
stopped when the ``Services`` context exits, however it exits.

PostgreSQL runs with ``synchronous_commit=on`` and ``fsync=off``: a commit
returns once its WAL is written to the operating system, not flushed to disk,
which is the durability SQLite gives in WAL mode with ``synchronous=NORMAL``
(a crash of the process loses nothing, a crash of the machine may). ZooKeeper
also answers ``cons``, which reports each connection's request count.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import psycopg
from kazoo.client import KazooClient

from jobs import JobboardSettings
from orchestrator.standalone import LocalZooKeeper, find_free_port, four_letter_word
from tests.services.postgres import LocalPostgres

BACKENDS = ("postgresql", "sqlite")
_PG_SETTINGS = ("synchronous_commit", "fsync", "full_page_writes", "shared_buffers")
# One connection in `cons`: " /127.0.0.1:40000[1](queued=0,recved=12,sent=12,sid=0x...,"
_CONS_LINE = re.compile(r"recved=(?P<recved>\d+),sent=\d+,sid=(?P<sid>0x[0-9a-f]+)"
                        r"(?:.*?,to=(?P<to>\d+))?")


class BenchZooKeeper(LocalZooKeeper):
    """``LocalZooKeeper`` that also answers ``cons`` (requests per connection)."""

    def _config_text(self) -> str:
        # A later line of a Java properties file wins over an earlier one.
        return super()._config_text() + "4lw.commands.whitelist=ruok,srvr,mntr,cons\n"


class Services:
    """ZooKeeper (always) and PostgreSQL (when a run needs it), in ``work_dir``."""

    def __init__(self, work_dir: Path, backends: Sequence[str]) -> None:
        self.work_dir = work_dir
        self._backends = tuple(backends)
        self.zookeeper = BenchZooKeeper(work_dir / "zookeeper", port=find_free_port())
        self.postgres: LocalPostgres | None = None
        self._pg_dir: Path | None = None
        self._client: KazooClient | None = None

    @property
    def zk_hosts(self) -> str:
        return self.zookeeper.hosts

    @property
    def client(self) -> KazooClient:
        """The benchmark's own ZooKeeper session, for looking at the board."""
        assert self._client is not None, "services are not started"
        return self._client

    def __enter__(self) -> Services:
        try:
            self.zookeeper.start()
            self._client = KazooClient(hosts=self.zk_hosts)
            self._client.start(timeout=30)
            if "postgresql" in self._backends:
                # Not under work_dir: the server runs as `postgres`, and mkdtemp's
                # directory is handed over to that user by LocalPostgres.
                self._pg_dir = Path(tempfile.mkdtemp(prefix="orchestrator-bench-pg-"))
                self.postgres = LocalPostgres(self._pg_dir, find_free_port(),
                                              crash_safe=True)
                self.postgres.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop everything that was started; safe to call more than once."""
        try:
            if self._client is not None:
                with contextlib.suppress(Exception):
                    self._client.stop()
                    self._client.close()
                self._client = None
        finally:
            try:
                if self.postgres is not None:
                    self.postgres.stop()
                    self.postgres = None
            finally:
                if self._pg_dir is not None:
                    shutil.rmtree(self._pg_dir, ignore_errors=True)
                    self._pg_dir = None
                self.zookeeper.stop()

    @contextlib.contextmanager
    def database(self, backend: str, run_dir: Path) -> Iterator[str]:
        """Yield the URL of a new, empty database; drop it afterwards."""
        if backend == "sqlite":
            yield f"sqlite:///{run_dir / 'bench.sqlite'}"
            return
        if backend != "postgresql":
            raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")
        assert self.postgres is not None, "PostgreSQL was not started"
        name = f"bench_{uuid.uuid4().hex[:12]}"
        self.postgres.create_database(name)
        try:
            yield self.postgres.url_for(name)
        finally:
            self.postgres.drop_database(name)

    def versions(self) -> dict[str, str]:
        """Server versions, for the report."""
        found: dict[str, str] = {}
        with contextlib.suppress(OSError, IndexError):
            srvr = four_letter_word(self.zookeeper.host, self.zookeeper.port, "srvr")
            # "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on ..."
            version = srvr.splitlines()[0].split(":", 1)[1].strip()
            found["ZooKeeper"] = version.split(",")[0].split("-")[0]
        if self.postgres is not None:
            with contextlib.suppress(psycopg.Error):
                with psycopg.connect(self.postgres.conninfo_for("postgres")) as conn:
                    row = conn.execute("SHOW server_version").fetchone()
                    found["PostgreSQL"] = str(row[0]) if row else "?"
        return found

    def postgres_settings(self) -> str:
        """The PostgreSQL settings that bear on commit cost, for the report."""
        if self.postgres is None:
            return ""
        values = []
        with contextlib.suppress(psycopg.Error):
            with psycopg.connect(self.postgres.conninfo_for("postgres")) as conn:
                for name in _PG_SETTINGS:
                    row = conn.execute(f"SHOW {name}").fetchone()
                    values.append(f"{name}={row[0] if row else '?'}")
        return ", ".join(values)

    def connections(self) -> dict[int, tuple[int, int | None]]:
        """ZooKeeper's view of its client connections: session id -> (requests
        received so far, negotiated session timeout in ms)."""
        reply = four_letter_word(self.zookeeper.host, self.zookeeper.port, "cons")
        found: dict[int, tuple[int, int | None]] = {}
        for line in reply.splitlines():
            match = _CONS_LINE.search(line)
            if match:
                timeout = match.group("to")
                found[int(match.group("sid"), 16)] = (
                    int(match.group("recved")), int(timeout) if timeout else None)
        return found


def board_path() -> str:
    """A jobboard path no other run uses (its entities live beside it)."""
    return f"/bench-{uuid.uuid4().hex[:12]}/jobs"


def job_nodes(client: KazooClient, path: str) -> list[str]:
    """Job znodes still on the board (claimed or not)."""
    if client.exists(path) is None:
        return []
    return [c for c in client.get_children(path)
            if c.startswith("job") and not c.endswith(".lock")]


def conductors_registered(client: KazooClient, path: str) -> int:
    where = _conductors(path)
    return len(client.get_children(where)) if client.exists(where) else 0


def conductor_sessions(client: KazooClient, path: str) -> list[int]:
    """The ZooKeeper session ids of the conductors registered on the board.

    Both TaskFlow's conductor and ours register an ephemeral entity node, owned
    by the session of the conductor's board.
    """
    where = _conductors(path)
    if client.exists(where) is None:
        return []
    sessions = []
    for child in client.get_children(where):
        stat = client.exists(f"{where}/{child}")
        if stat is not None:
            sessions.append(int(stat.ephemeralOwner))
    return sessions


def lock_nodes(client: KazooClient, path: str) -> int:
    """Claimed jobs on the board (their ``.lock`` nodes)."""
    if client.exists(path) is None:
        return 0
    return sum(1 for c in client.get_children(path) if c.endswith(".lock"))


def _conductors(path: str) -> str:
    return JobboardSettings(path=path).entity_path + "/conductor"
