"""The chaos tier's services really go down and come back with their data.

Each test owns its server, so stopping it disturbs no other test.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from kazoo.client import KazooClient

from jobs.zkclient import CONNECTION_RETRY
from orchestrator.standalone import LocalZooKeeper, four_letter_word
from orchestrator.standalone.zookeeper import LocalZooKeeperEnsemble
from tests.chaos.conftest import WatchedClient
from tests.chaos.harness import process_state
from tests.helpers import wait_for
from tests.services import LocalPostgres, down_for, is_listening, paused_for, take_down

pytestmark = pytest.mark.integration

# Long enough that no session can expire while a test restarts a server under it.
SESSION_TIMEOUT = 15.0


def _exited(pid: int) -> bool:
    # A zombie has exited too: orphans (the postmaster) wait for PID 1 to reap them.
    return process_state(pid) in (None, "Z")


def _fresh_client(hosts: str) -> KazooClient:
    client = KazooClient(hosts=hosts, timeout=SESSION_TIMEOUT,
                         connection_retry=dict(CONNECTION_RETRY))
    client.start(timeout=30.0)
    return client


def test_persistent_znode_survives_a_zookeeper_stop_and_start(
    private_zookeeper: LocalZooKeeper,
) -> None:
    client = _fresh_client(private_zookeeper.hosts)
    try:
        client.create("/kept/node", b"payload", makepath=True)
    finally:
        client.stop()
        client.close()
    pid = private_zookeeper.pid
    assert pid is not None

    take_down(private_zookeeper)  # asserts the port is free

    assert _exited(pid)
    assert not is_listening(private_zookeeper.host, private_zookeeper.port)
    private_zookeeper.start()
    client = _fresh_client(private_zookeeper.hosts)
    try:
        assert client.get("/kept/node")[0] == b"payload"
    finally:
        client.stop()
        client.close()


def test_session_and_ephemeral_node_survive_a_short_zookeeper_restart(
    private_zookeeper: LocalZooKeeper, watched_client: Callable[..., WatchedClient]
) -> None:
    watched = watched_client(private_zookeeper.hosts, timeout=SESSION_TIMEOUT)
    session = watched.session_id
    watched.client.create("/owned", b"", ephemeral=True)

    with down_for(private_zookeeper):
        wait_for(lambda: watched.went_through("CONNECTED", "SUSPENDED"), timeout=10,
                 message="the client to notice the server is gone")

    wait_for(lambda: watched.went_through("CONNECTED", "SUSPENDED", "CONNECTED"),
             timeout=30, message="the client to reconnect")
    assert "LOST" not in watched.states
    assert watched.session_id == session
    stat = watched.client.exists("/owned")
    assert stat is not None and stat.ephemeralOwner == session


def test_a_paused_zookeeper_answers_nothing_until_resumed(
    private_zookeeper: LocalZooKeeper, watched_client: Callable[..., WatchedClient]
) -> None:
    watched = watched_client(private_zookeeper.hosts, timeout=SESSION_TIMEOUT)
    session = watched.session_id
    host, port = private_zookeeper.host, private_zookeeper.port

    with paused_for(private_zookeeper):
        # The kernel still accepts the connection; the frozen JVM never answers.
        assert is_listening(host, port)
        with pytest.raises(OSError):
            four_letter_word(host, port, "ruok", timeout=0.5)

    assert four_letter_word(host, port, "ruok") == "imok"
    assert watched.client.exists("/") is not None
    assert watched.session_id == session


def test_a_killed_zookeeper_restarts_with_its_sessions(
    private_zookeeper: LocalZooKeeper, watched_client: Callable[..., WatchedClient]
) -> None:
    watched = watched_client(private_zookeeper.hosts, timeout=SESSION_TIMEOUT)
    session = watched.session_id
    watched.client.create("/owned", b"", ephemeral=True)
    pid = private_zookeeper.pid
    assert pid is not None

    private_zookeeper.kill()

    assert _exited(pid)
    private_zookeeper.start()
    wait_for(lambda: watched.went_through("SUSPENDED", "CONNECTED"), timeout=30,
             message="the client to reconnect")
    assert watched.session_id == session
    assert watched.client.exists("/owned") is not None


def test_postgres_stop_refuses_connections_and_start_brings_the_data_back(
    private_postgres: LocalPostgres,
) -> None:
    private_postgres.create_database("kept")
    conninfo = private_postgres.conninfo_for("kept")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("create table marker (value text)")
        # Committed an instant before a crash-like stop: must survive it.
        conn.execute("insert into marker values ('before the outage')")
    pid = private_postgres.pid
    assert pid is not None

    with down_for(private_postgres):
        assert not private_postgres.is_running()
        assert _exited(pid)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(conninfo, connect_timeout=2)

    with psycopg.connect(conninfo) as conn:
        rows = conn.execute("select value from marker").fetchall()
    assert rows == [("before the outage",)]


def test_ensemble_elects_a_new_leader_and_a_client_keeps_its_session(
    zookeeper_ensemble: LocalZooKeeperEnsemble,
    watched_client: Callable[..., WatchedClient],
) -> None:
    assert len(zookeeper_ensemble.hosts.split(",")) == 3
    watched = watched_client(zookeeper_ensemble.hosts, timeout=SESSION_TIMEOUT)
    session = watched.session_id
    watched.client.create("/owned", b"", ephemeral=True)
    old_leader = zookeeper_ensemble.leader()
    assert old_leader is not None

    zookeeper_ensemble.kill(old_leader)

    assert not old_leader.is_running()
    assert not is_listening(old_leader.host, old_leader.port)
    wait_for(lambda: zookeeper_ensemble.leader() not in (None, old_leader), timeout=30,
             message="a new leader")
    new_leader = zookeeper_ensemble.leader()
    assert new_leader is not None and new_leader.myid != old_leader.myid
    # Whichever server it was on, the election dropped the client's connection.
    wait_for(lambda: watched.went_through("SUSPENDED", "CONNECTED") and watched.connected(),
             timeout=30, message="the client to reconnect")
    assert watched.session_id == session
    watched.client.create("/written-after", b"")  # the new quorum takes writes
    stat = watched.client.exists("/owned")
    assert stat is not None and stat.ephemeralOwner == session

    zookeeper_ensemble.start_member(old_leader)

    assert old_leader.mode == "follower"
    assert zookeeper_ensemble.leader() is new_leader
