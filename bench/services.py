"""The services a benchmark run needs: one ZooKeeper, one PostgreSQL, fresh databases.

Both servers are started from Debian's packages in a temporary directory and
stopped when the ``Services`` context exits, however it exits.
"""

from __future__ import annotations

import contextlib
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

BACKENDS = ("sqlite", "postgresql")


class Services:
    """ZooKeeper (always) and PostgreSQL (when a run needs it), in ``work_dir``."""

    def __init__(self, work_dir: Path, backends: Sequence[str]) -> None:
        self.work_dir = work_dir
        self._backends = tuple(backends)
        self.zookeeper = LocalZooKeeper(work_dir / "zookeeper", port=find_free_port())
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
                self.postgres = LocalPostgres(self._pg_dir, find_free_port())
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
    where = JobboardSettings(path=path).entity_path + "/conductor"
    return len(client.get_children(where)) if client.exists(where) else 0
