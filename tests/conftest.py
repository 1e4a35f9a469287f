"""Fixtures for real services: ZooKeeper and PostgreSQL on 127.0.0.1.

Services start lazily, once per session, and only when a test asks for them, so
``pytest tests/unit`` needs neither Java nor PostgreSQL. Every test gets its own
jobboard path and its own database.

When a service is missing or will not start, tests that need it are skipped, except
under ``CI=true``, where they fail: CI must never pass by skipping.

Environment knobs (for trying the failure paths, not needed normally):
``ORCHESTRATOR_TEST_JAVA`` (java executable for ZooKeeper) and
``ORCHESTRATOR_TEST_PG_BIN`` (directory holding PostgreSQL's initdb and pg_ctl).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn
from uuid import uuid4

import pytest

from orchestrator.standalone import LocalZooKeeper, ZooKeeperError, find_free_port
from orchestrator.standalone.zookeeper import LocalZooKeeperEnsemble
from tests.services import LocalPostgres, PostgresStartError, PostgresUnavailable


def service_unavailable(reason: str) -> NoReturn:
    """Skip the test, or fail it when running under CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{reason} (CI=true: missing services fail, not skip)", pytrace=False
        )
    pytest.skip(reason)


def _start_problem(
    start: Callable[[], None], errors: tuple[type[BaseException], ...]
) -> str | None:
    # Returned rather than raised, so the skip/fail is not chained to the error.
    try:
        start()
    except errors as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def zookeeper_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LocalZooKeeper]:
    """A standalone ZooKeeper for the whole session, on a free port."""
    server = LocalZooKeeper(
        tmp_path_factory.mktemp("zookeeper"),
        port=find_free_port(),
        java=os.environ.get("ORCHESTRATOR_TEST_JAVA") or None,
    )
    problem = _start_problem(server.start, (ZooKeeperError, OSError))
    if problem:
        service_unavailable(f"ZooKeeper unavailable: {problem}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def zk_hosts(zookeeper_server: LocalZooKeeper) -> str:
    """``host:port`` of the session's ZooKeeper."""
    return zookeeper_server.hosts


@pytest.fixture
def jobboard_path() -> str:
    """A jobboard path no other test uses (needs no server by itself)."""
    return f"/t-{uuid4().hex[:12]}/jobs"


def _running_postgres(prefix: str, *, crash_safe: bool = False) -> Iterator[LocalPostgres]:
    # Not under pytest's tmp dir: it is mode 0700 and the server runs as `postgres`.
    base_dir = Path(tempfile.mkdtemp(prefix=prefix))
    bin_dir = os.environ.get("ORCHESTRATOR_TEST_PG_BIN")
    server = LocalPostgres(base_dir, find_free_port(),
                           bin_dir=Path(bin_dir) if bin_dir else None,
                           crash_safe=crash_safe)
    problem = _start_problem(
        server.start, (PostgresUnavailable, PostgresStartError, OSError)
    )
    if problem:
        shutil.rmtree(base_dir, ignore_errors=True)
        service_unavailable(f"PostgreSQL unavailable: {problem}")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(base_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A throwaway PostgreSQL cluster for the whole session, on a free port."""
    yield from _running_postgres("orchestrator-test-pg-")


@pytest.fixture
def postgres_url(postgres_server: LocalPostgres) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, empty database, dropped after the test."""
    name = f"t_{uuid4().hex[:12]}"
    postgres_server.create_database(name)
    try:
        yield postgres_server.url_for(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def private_zookeeper(tmp_path: Path) -> Iterator[LocalZooKeeper]:
    """A standalone ZooKeeper of this test's own, which it may stop, kill, pause.

    ``start()`` again reuses the port and the data directory: persistent znodes stay,
    and so do sessions whose clients reconnect within their timeout.
    """
    server = LocalZooKeeper(
        tmp_path / "private-zookeeper",
        port=find_free_port(),
        java=os.environ.get("ORCHESTRATOR_TEST_JAVA") or None,
    )
    problem = _start_problem(server.start, (ZooKeeperError, OSError))
    if problem:
        service_unavailable(f"ZooKeeper unavailable: {problem}")
    try:
        yield server
    finally:
        server.stop()  # also thaws a server the test left paused


@pytest.fixture
def private_postgres() -> Iterator[LocalPostgres]:
    """A PostgreSQL cluster of this test's own, which it may stop and start again.

    Its ``stop()`` is a crash (immediate mode); commits are synchronous, so every
    committed transaction is still there after the next ``start()``.
    """
    yield from _running_postgres("orchestrator-test-private-pg-", crash_safe=True)


@pytest.fixture
def zookeeper_ensemble(tmp_path: Path) -> Iterator[LocalZooKeeperEnsemble]:
    """A three-server ZooKeeper ensemble on 127.0.0.1, serving, for this test only."""
    ensemble = LocalZooKeeperEnsemble(
        tmp_path / "zookeeper-ensemble",
        size=3,
        java=os.environ.get("ORCHESTRATOR_TEST_JAVA") or None,
    )
    problem = _start_problem(ensemble.start, (ZooKeeperError, OSError))
    if problem:
        service_unavailable(f"ZooKeeper ensemble unavailable: {problem}")
    try:
        yield ensemble
    finally:
        ensemble.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """SQLAlchemy URL of a SQLite file in the test's own tmp directory."""
    return f"sqlite:///{tmp_path / 'orchestrator.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"], ids=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each database backend in turn; PostgreSQL starts only when this case runs."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url
