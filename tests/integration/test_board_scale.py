"""The jobboard at scale on a real ZooKeeper: idle load flat in the jobs, a bounded trash.

What an idle board asks of ZooKeeper is counted by the server (the ``cons``
four-letter word: packets received per session), not guessed from the client.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import pytest

import jobs
import persistence
from orchestrator.conductor import Conductor, ConductorSettings
from orchestrator.registry import FlowRegistry
from orchestrator.standalone import four_letter_word
from tests.helpers import wait_for

pytestmark = pytest.mark.integration

#: A long session makes few pings: kazoo pings when it has sent nothing for a
#: third of the session, less up to 0.4 s of jitter.
SESSION = 4.0
WINDOW = 4.0
PING_EVERY_AT_LEAST = SESSION / 3 - 0.4
#: The most requests an idle session makes in WINDOW: pings, and one more in
#: case the window opens as the last change's listing is answered.
IDLE_MOST = math.ceil(WINDOW / PING_EVERY_AT_LEAST) + 2


@pytest.fixture
def settings(zk_hosts: str, jobboard_path: str) -> jobs.JobboardSettings:
    return jobs.JobboardSettings(hosts=(zk_hosts,), path=jobboard_path,
                                 session_timeout=SESSION)


@pytest.fixture
def poster(settings: jobs.JobboardSettings) -> Iterator[jobs.Board]:
    """Another conductor's board: posts and claims, watches nothing."""
    with jobs.open_jobboard(settings, "busy", watch=False) as opened:
        yield opened


def post(board: jobs.Board) -> jobs.BoardJob:
    return board.post(uuid=str(uuid.uuid4()), name="bench-1-task",
                      details={"version": 1, "pad": "x" * 200}, book_uuid=str(uuid.uuid4()),
                      book_name="scale")


def post_and_claim(board: jobs.Board, count: int) -> None:
    for _ in range(count):
        board.claim(post(board))


def requests_received(zk_hosts: str, session_id: int | None) -> int:
    """Packets ZooKeeper received on the session's connection so far (``cons``)."""
    assert session_id is not None
    host, port = zk_hosts.rsplit(":", 1)
    report = four_letter_word(host, int(port), "cons")
    for line in report.splitlines():
        if f"sid={session_id:#x}," in line:
            return int(re.search(r"recved=(\d+)", line).group(1))  # type: ignore[union-attr]
    raise AssertionError(f"session {session_id:#x} not in cons:\n{report}")


def requests_in_window(zk_hosts: str, board: jobs.Board) -> int:
    before = requests_received(zk_hosts, board.session_id)
    threading.Event().wait(WINDOW)  # the measured window itself, not a sync
    return requests_received(zk_hosts, board.session_id) - before


def sees_all_claimed(board: jobs.Board, count: int, *,
                     registered_to: jobs.Board | None = None) -> bool:
    """Whether ``board`` knows ``count`` jobs, all claimed (and, seen from
    ``registered_to``, has registered its conductor): it has nothing left to do."""
    known = board.jobs()
    if registered_to is not None and board.who not in {
            c.name for c in registered_to.alive_conductors()}:
        return False
    return (board.complete and len(known) == count
            and all(board.is_claimed(job) for job in known))


def test_an_idle_watching_board_only_pings_however_many_jobs_others_hold(
        settings: jobs.JobboardSettings, poster: jobs.Board, zk_hosts: str) -> None:
    counts: dict[int, int] = {}
    with jobs.open_jobboard(settings, "idle") as idle:
        for held in (0, 100, 1000):
            post_and_claim(poster, held - len(idle.jobs()))
            wait_for(partial(sees_all_claimed, idle, held), timeout=60,
                     message=f"the idle board to see {held} claimed jobs")
            counts[held] = requests_in_window(zk_hosts, idle)
    assert all(n <= IDLE_MOST for n in counts.values()), counts
    assert max(counts.values()) - min(counts.values()) <= 2, counts


def test_an_idle_conductor_asks_no_more_of_zookeeper_with_1000_jobs_held_by_others(
        settings: jobs.JobboardSettings, poster: jobs.Board, zk_hosts: str,
        sqlite_url: str) -> None:
    # Reconciliation and trash pruning run several times in the window: they
    # ask the database and list an empty trash, the same with or without jobs.
    board_settings = jobs.JobboardSettings(
        hosts=settings.hosts, path=settings.path, session_timeout=SESSION,
        trash_prune_interval=1.0)
    database = persistence.Database(sqlite_url)
    database.upgrade()
    counts: dict[int, int] = {}
    try:
        for held in (0, 1000):
            post_and_claim(poster, held - max(counts, default=0))
            with idle_conductor(board_settings, database) as board:
                wait_for(partial(sees_all_claimed, board, held, registered_to=poster),
                         timeout=60,
                         message=f"the conductor to start and see {held} claimed jobs")
                counts[held] = requests_in_window(zk_hosts, board)
    finally:
        database.close()
    prunes = math.ceil(WINDOW / board_settings.trash_prune_interval) + 1
    assert counts[1000] <= IDLE_MOST + prunes, counts
    assert counts[1000] <= counts[0] + 3, counts


@contextmanager
def idle_conductor(settings: jobs.JobboardSettings,
                   database: persistence.Database) -> Iterator[jobs.Board]:
    """A Conductor in a thread for the ``with`` block; yields its board."""
    with jobs.open_jobboard(settings, "idle-conductor") as board:
        conductor = Conductor(ConductorSettings(name="idle-conductor", poll_interval=0.05,
                                                reconcile_interval=0.2),
                              board, database, FlowRegistry.from_entry_points())
        thread = threading.Thread(target=conductor.run, daemon=True)
        thread.start()
        try:
            yield board
        finally:
            conductor.stop()
            thread.join(timeout=30)


# -- the trash ------------------------------------------------------------------------


def trash(board: jobs.Board, count: int, *, racing: bool = False) -> list[str]:
    """Post, claim and trash ``count`` jobs; their node names, in trash order.

    ``racing``: a conductor runs, and may claim a posting first; it trashes
    what it cannot read, as this would.
    """
    names = []
    for _ in range(count):
        job = post(board)
        try:
            board.claim(job)
        except jobs.Unclaimable:
            if not racing:
                raise
            wait_for(lambda node=job.node: node in in_trash(board), timeout=30,
                     message="the conductor to trash the posting it claimed")
        else:
            board.trash(job)
        names.append(job.node)
    return names


def in_trash(board: jobs.Board) -> list[str]:
    return sorted(board.client.get_children(board.settings.trash_path))


def with_trash(settings: jobs.JobboardSettings, **options: float) -> jobs.JobboardSettings:
    fields = {name: getattr(settings, name) for name in
              ("hosts", "path", "session_timeout")}
    return jobs.JobboardSettings(**fields, **options)  # type: ignore[arg-type]


def test_the_trash_keeps_postings_for_their_retention_then_lets_them_go(
        settings: jobs.JobboardSettings) -> None:
    retention = 1.5
    with jobs.open_jobboard(with_trash(settings, trash_retention=retention,
                                       trash_max_entries=0), "pruner") as board:
        old = trash(board, 3)
        assert board.prune_trash() == 0
        assert in_trash(board) == sorted(old)
        last = board.client.exists(f"{board.settings.trash_path}/{old[-1]}")
        # Ages are told by this host's clock against ZooKeeper's creation time.
        wait_for(lambda: time.time() * 1000 > last.ctime + retention * 1000, timeout=30,
                 message="the old postings to pass their retention")
        young = trash(board, 1)
        assert board.prune_trash() == 3
        assert in_trash(board) == young
        assert board.prune_trash() == 0
        # What stays is the posting as TaskFlow trashes it.
        data, _stat = board.client.get(f"{board.settings.trash_path}/{young[0]}")
        assert json.loads(data)["name"] == "bench-1-task"


def test_beyond_its_count_the_trash_keeps_the_last_trashed(
        settings: jobs.JobboardSettings) -> None:
    with jobs.open_jobboard(with_trash(settings, trash_retention=0,
                                       trash_max_entries=3), "pruner") as board:
        posted = [post(board) for _ in range(5)]
        # Trashed newest posting first: what counts is when a posting was trashed.
        for job in reversed(posted):
            board.claim(job)
            board.trash(job)
        assert board.prune_trash() == 2
        assert in_trash(board) == sorted(job.node for job in posted[:3])
        assert board.prune_trash() == 0


def test_boards_pruning_at_once_keep_exactly_the_newest(
        settings: jobs.JobboardSettings) -> None:
    limited = with_trash(settings, trash_retention=0, trash_max_entries=5)
    with jobs.open_jobboard(limited, "trasher") as trasher:
        trashed = trash(trasher, 40)
    pruners = [jobs.Board(limited, f"pruner-{i}").connect() for i in range(4)]
    try:
        deleted: list[int] = []
        start = threading.Barrier(len(pruners))

        def prune(board: jobs.Board) -> None:
            start.wait()
            deleted.append(board.prune_trash())

        threads = [threading.Thread(target=prune, args=(b,)) for b in pruners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sum(deleted) == 35, deleted
        assert in_trash(pruners[0]) == sorted(trashed[-5:])
    finally:
        for board in pruners:
            board.close()


def test_a_conductor_prunes_the_trash_now_and_then(
        settings: jobs.JobboardSettings, sqlite_url: str) -> None:
    limited = with_trash(settings, trash_retention=0, trash_max_entries=2,
                         trash_prune_interval=1.0)
    with jobs.open_jobboard(limited, "trasher") as trasher:
        trashed = trash(trasher, 6)
        database = persistence.Database(sqlite_url)
        database.upgrade()
        try:
            with idle_conductor(limited, database):
                wait_for(lambda: in_trash(trasher) == sorted(trashed[-2:]), timeout=30,
                         message="the conductor to prune the trash to its 2 newest")
                trashed += trash(trasher, 2, racing=True)
                wait_for(lambda: in_trash(trasher) == sorted(trashed[-2:]), timeout=30,
                         message="the conductor to prune the trash again")
        finally:
            database.close()
