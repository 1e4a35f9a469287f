"""The service fixtures give real, isolated ZooKeeper and PostgreSQL servers."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from kazoo.client import KazooClient

from orchestrator.standalone import (
    LocalZooKeeper,
    ZooKeeperStartError,
    ZooKeeperUnavailable,
    find_free_port,
)
from tests.helpers import wait_for

pytestmark = pytest.mark.integration

# Each test of a pair records what it was given; the later one checks it differs.
_seen_jobboard_paths: list[str] = []
_seen_databases: list[str] = []


@pytest.fixture
def kazoo(zk_hosts: str) -> Iterator[KazooClient]:
    client = KazooClient(hosts=zk_hosts, timeout=5.0)
    client.start(timeout=10.0)
    try:
        yield client
    finally:
        client.stop()
        client.close()


def _conninfo(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_kazoo_creates_and_reads_a_znode(
    kazoo: KazooClient, jobboard_path: str
) -> None:
    assert jobboard_path.startswith("/")
    kazoo.create(f"{jobboard_path}/hello", b"world", makepath=True)

    data, _ = kazoo.get(f"{jobboard_path}/hello")

    assert data == b"world"
    assert kazoo.get_children(jobboard_path) == ["hello"]


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_gets_its_own_jobboard_path(
    kazoo: KazooClient, jobboard_path: str, turn: int
) -> None:
    assert jobboard_path not in _seen_jobboard_paths
    for earlier in _seen_jobboard_paths:  # still there, but in another subtree
        assert kazoo.exists(earlier) is not None
        assert not jobboard_path.startswith(earlier.rsplit("/", 1)[0] + "/")
    assert kazoo.exists(jobboard_path) is None
    kazoo.create(f"{jobboard_path}/job-", b"{}", sequence=True, makepath=True)
    _seen_jobboard_paths.append(jobboard_path)


def test_postgres_url_reaches_postgresql_15(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+psycopg://postgres@127.0.0.1:")
    with psycopg.connect(_conninfo(postgres_url)) as conn:
        row = conn.execute("select version()").fetchone()
    assert row is not None
    assert "PostgreSQL 15" in row[0]


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_gets_its_own_database(postgres_url: str, turn: int) -> None:
    with psycopg.connect(_conninfo(postgres_url)) as conn:
        row = conn.execute("select current_database()").fetchone()
        assert row is not None
        name = row[0]
        assert name not in _seen_databases
        # Fresh and empty: the other test's table is not here.
        conn.execute("create table marker (id int)")
    _seen_databases.append(name)


def test_sqlite_url_points_into_the_tests_tmp_dir(
    sqlite_url: str, tmp_path: Path
) -> None:
    assert sqlite_url == f"sqlite:///{tmp_path}/orchestrator.sqlite"


def test_refuses_a_port_in_use_with_a_clear_message(
    zookeeper_server: LocalZooKeeper, tmp_path: Path
) -> None:
    second = LocalZooKeeper(tmp_path / "zk", port=zookeeper_server.port)

    with pytest.raises(ZooKeeperStartError, match=f"port {zookeeper_server.port} "):
        second.start(timeout=5)

    assert not second.is_running()
    assert zookeeper_server.is_running()


def test_refuses_a_port_held_by_any_listener(
    zookeeper_server: LocalZooKeeper, tmp_path: Path
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        server = LocalZooKeeper(tmp_path / "zk", port=port)
        with pytest.raises(ZooKeeperStartError, match="already in use"):
            server.start(timeout=5)


def test_stop_leaves_no_java_process_behind(
    zookeeper_server: LocalZooKeeper, tmp_path: Path
) -> None:
    server = LocalZooKeeper(tmp_path / "zk", port=find_free_port())
    with server:
        pid = server.pid
        assert pid is not None and _process_exists(pid)
        assert "QuorumPeerMain" in Path(f"/proc/{pid}/cmdline").read_text()
        assert os.getpgid(pid) == pid  # its own process group

    assert not server.is_running()
    assert server.pid is None
    assert not _process_exists(pid)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)  # nothing left in its group either
    server.stop()  # idempotent


def test_restart_keeps_data(zookeeper_server: LocalZooKeeper, tmp_path: Path) -> None:
    server = LocalZooKeeper(tmp_path / "zk", port=find_free_port())
    for expected_exists in (False, True):
        with server:
            client = KazooClient(hosts=server.hosts, timeout=5.0)
            client.start(timeout=10.0)
            try:
                assert (client.exists("/kept") is not None) is expected_exists
                client.ensure_path("/kept")
            finally:
                client.stop()
                client.close()
    assert "clientPortAddress=127.0.0.1" in server.config_path.read_text()


def test_early_exit_reports_the_log_tail(tmp_path: Path) -> None:
    fake_java = tmp_path / "java"
    fake_java.write_text("#!/bin/sh\necho 'Error: boom from the JVM' >&2\nexit 3\n")
    fake_java.chmod(fake_java.stat().st_mode | stat.S_IXUSR)
    fake_install = tmp_path / "zookeeper-release"
    (fake_install / "lib").mkdir(parents=True)
    (fake_install / "lib" / "zookeeper-0.0.jar").touch()
    server = LocalZooKeeper(
        tmp_path / "zk",
        port=find_free_port(),
        java=str(fake_java),
        install_dir=fake_install,
    )

    with pytest.raises(ZooKeeperStartError, match="code 3") as raised:
        server.start(timeout=10)

    assert "boom from the JVM" in str(raised.value)
    assert not server.is_running()


def test_missing_java_says_what_to_install(tmp_path: Path) -> None:
    server = LocalZooKeeper(tmp_path, java=str(tmp_path / "no-such-java"))

    with pytest.raises(ZooKeeperUnavailable, match="apt-get install -y zookeeper"):
        server.start()

    assert not (tmp_path / "zoo.cfg").exists()


@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), ("", "1 skipped")])
def test_missing_service_skips_locally_and_fails_under_ci(
    ci: str, outcome: str
) -> None:
    env = {**os.environ, "CI": ci, "ORCHESTRATOR_TEST_JAVA": "/nonexistent/java"}
    target = f"{__file__}::test_kazoo_creates_and_reads_a_znode"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target],
        cwd=Path(__file__).parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert outcome in result.stdout, result.stdout + result.stderr
    assert result.returncode == (1 if ci == "true" else 0)
    assert "ZooKeeper unavailable" in result.stdout


def test_wait_for_returns_the_value_or_names_what_it_waited_for() -> None:
    calls = iter([None, 0, "ready"])
    assert wait_for(lambda: next(calls), timeout=5, interval=0.001) == "ready"
    with pytest.raises(AssertionError, match="the impossible"):
        wait_for(lambda: False, timeout=0.05, interval=0.01, message="the impossible")
