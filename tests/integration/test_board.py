"""The jobboard on a real ZooKeeper: TaskFlow's layout, claims, and the watch.

The board writes what TaskFlow's ZookeeperJobBoard writes, so TaskFlow's own
board (and its tools) can read it: these tests run the two side by side, and
fail if a TaskFlow upgrade changes the layout.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient
from taskflow import states as tf_states
from taskflow.jobs.backends import impl_zookeeper

import jobs
from tests.helpers import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(zk_hosts: str, jobboard_path: str) -> jobs.JobboardSettings:
    return jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path)


@pytest.fixture
def board(settings: jobs.JobboardSettings) -> Iterator[jobs.Board]:
    with jobs.open_jobboard(settings, "conductor-a") as opened:
        yield opened


@pytest.fixture
def other(settings: jobs.JobboardSettings) -> Iterator[jobs.Board]:
    with jobs.open_jobboard(settings, "conductor-b") as opened:
        yield opened


@pytest.fixture
def stock(zk_hosts: str, jobboard_path: str) -> Iterator[impl_zookeeper.ZookeeperJobBoard]:
    client = KazooClient(hosts=zk_hosts)
    board = impl_zookeeper.ZookeeperJobBoard(
        "stock", {"path": jobboard_path, "check_compatible": False}, client=client)
    board.connect()
    try:
        yield board
    finally:
        board.close()
        client.stop()
        client.close()


BOOK = "5b0c4a4e-8f7a-4a55-9d7c-2f0a4c1de001"


def post(board: jobs.Board, priority: str = "NORMAL", **details: object) -> jobs.BoardJob:
    return board.post(uuid=str(uuid.uuid4()), name="phone-calls",
                      details={"version": 1, **details}, book_uuid=BOOK,
                      book_name="job-x", priority=priority)


def seen(board: jobs.Board, job: jobs.BoardJob) -> jobs.BoardJob:
    return wait_for(lambda: board.find(job.uuid), timeout=10,
                    message=f"{board.who} to see job {job.uuid}")


def test_taskflows_own_board_reads_our_postings_and_claims(
        board: jobs.Board, other: jobs.Board,
        stock: impl_zookeeper.ZookeeperJobBoard) -> None:
    job = post(board, "HIGH", flow="phone-calls", store={"a": 1})
    listed = wait_for(lambda: list(stock.iterjobs(ensure_fresh=True)), timeout=10,
                      message="TaskFlow's board to list the job")
    (theirs,) = listed
    assert (theirs.uuid, theirs.name, theirs.priority.value) == (job.uuid, "phone-calls",
                                                                 "HIGH")
    assert theirs.details == {"version": 1, "flow": "phone-calls", "store": {"a": 1}}
    assert (theirs.book_uuid, theirs.book_name) == (BOOK, "job-x")
    assert theirs.state == tf_states.UNCLAIMED

    board.claim(seen(board, job))
    assert theirs.state == tf_states.CLAIMED
    assert stock.find_owner(theirs) == "conductor-a"
    wait_for(lambda: not other.unclaimed(), timeout=10,
             message="the other board to see the claim")
    with pytest.raises(jobs.Unclaimable):
        other.claim(seen(other, job))

    board.consume(job)
    assert theirs.state == tf_states.COMPLETE


def test_we_read_taskflows_postings_and_respect_its_claims(
        board: jobs.Board, stock: impl_zookeeper.ZookeeperJobBoard) -> None:
    posted = stock.post("phone-calls", details={"version": 1}, priority="LOW")
    ours = wait_for(lambda: board.find(posted.uuid), timeout=10,
                    message="our board to see TaskFlow's posting")
    assert (ours.name, ours.priority, dict(ours.details)) == ("phone-calls", "LOW",
                                                             {"version": 1})
    stock.claim(posted, "stock-conductor")
    wait_for(lambda: board.is_claimed(ours), timeout=10, message="the claim to show")
    assert board.lock_owner(ours) == "stock-conductor"
    with pytest.raises(jobs.Unclaimable):
        board.claim(ours)
    stock.abandon(posted, "stock-conductor")
    wait_for(lambda: board.unclaimed() == [ours], timeout=10,
             message="the release to show")


def test_unclaimed_jobs_come_highest_priority_first_then_in_posting_order(
        board: jobs.Board) -> None:
    order = ["LOW", "NORMAL", "VERY_LOW", "VERY_HIGH", "HIGH", "NORMAL"]
    posted = [post(board, p) for p in order]
    wait_for(lambda: len(board.unclaimed()) == len(order), timeout=10,
             message="every job to show")
    listed = board.unclaimed()
    assert [j.priority for j in listed] == ["VERY_HIGH", "HIGH", "NORMAL", "NORMAL",
                                            "LOW", "VERY_LOW"]
    normals = [j.uuid for j in posted if j.priority == "NORMAL"]
    assert [j.uuid for j in listed if j.priority == "NORMAL"] == normals


def test_only_the_holder_releases_consumes_or_trashes(
        board: jobs.Board, other: jobs.Board, settings: jobs.JobboardSettings) -> None:
    job = seen(other, post(board))
    with pytest.raises(jobs.NotOwner):
        other.abandon(job)
    other.claim(job)
    for action in (board.abandon, board.consume, board.trash):
        with pytest.raises(jobs.NotOwner):
            action(job)
    assert other.holds(job) and not board.holds(job)
    other.trash(job)
    trashed = f"{settings.trash_path}/{job.node}"
    data, _stat = other.client.get(trashed)
    assert json.loads(data)["uuid"] == job.uuid
    wait_for(lambda: board.find(job.uuid) is None, timeout=10,
             message="the trashed job to leave the board")


def test_a_released_claim_is_seen_through_the_watch_at_once(
        board: jobs.Board, other: jobs.Board) -> None:
    job = seen(other, post(board))
    board.claim(seen(board, job))
    wait_for(lambda: other.is_claimed(job), timeout=10, message="the claim to show")
    changes = other.changes
    board.abandon(job)
    other.wait_for_change(changes, timeout=10)
    wait_for(lambda: not other.is_claimed(job), timeout=2,
             message="the release to show without a poll")


def test_a_new_session_registers_the_conductor_again(
        board: jobs.Board, other: jobs.Board, zk_hosts: str) -> None:
    board.register_conductor("conductor-a", {"engine": "serial"})
    assert [c.name for c in other.alive_conductors()] == ["conductor-a"]
    states: list[str] = []
    board.add_state_listener(states.append)

    expire_session(board, zk_hosts)

    wait_for(lambda: jobs.LOST in states and states[-1] == jobs.CONNECTED, timeout=30,
             message="the session to be lost and a new one made")
    wait_for(lambda: [c.name for c in other.alive_conductors()] == ["conductor-a"],
             timeout=10, message="the conductor to be registered again")


def expire_session(board: jobs.Board, zk_hosts: str) -> None:
    """End ``board``'s session from the server's side, as a long pause would.

    A second client that joins the session and closes it makes ZooKeeper
    expire it; the first client then sees LOST and starts a new session.
    """
    session_id, password = board.client.client_id
    thief = KazooClient(hosts=zk_hosts, client_id=(session_id, password))
    thief.start(timeout=10)
    thief.stop()
    thief.close()
