"""The ZooKeeper jobboard: TaskFlow's layout, driven by one watch.

Jobs are written the way TaskFlow's ``ZookeeperJobBoard`` writes them, so its
tools can read this board: a persistent sequential node ``<path>/jobNNNNNNNNNN``
holding the JSON posting, an ephemeral sibling ``jobNNNNNNNNNN.lock`` holding
``{"owner": <name>}`` while a conductor has the job claimed, trashed jobs under
``.trash`` and live conductors under ``.entities/conductor``.

Unlike TaskFlow's board, which asks ZooKeeper for every job's lock and data on
every look (about four round trips per job per poll), this one keeps the
board's children under a single watch: job and lock nodes are siblings, so
the children list alone says which jobs exist and which are claimed. A new
job's data is read once. An idle board makes no requests but pings, however
many jobs others hold, and a released claim is seen as soon as its lock node
goes.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kazoo import client as kazoo_client
from kazoo import exceptions as kazoo_exc
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState
from kazoo.recipe.watchers import ChildrenWatch

from jobs.errors import BoardUnavailable, JobsError
from jobs.settings import JobboardSettings
from jobs.spec import encode_posting
from jobs.zkclient import make_client

LOG = logging.getLogger(__name__)

JOB_PREFIX = "job"
LOCK_SUFFIX = ".lock"
#: TaskFlow's entity kind for conductors (``Conductor.ENTITY_KIND``).
CONDUCTOR_KIND = "conductor"

# Claim order: highest priority first (TaskFlow's JobPriority names, as posted).
PRIORITY_ORDER = ("VERY_HIGH", "HIGH", "NORMAL", "LOW", "VERY_LOW")
_PRIORITY_RANK = {name: rank for rank, name in enumerate(PRIORITY_ORDER)}

#: Session states reported to listeners.
CONNECTED = "CONNECTED"
SUSPENDED = "SUSPENDED"
LOST = "LOST"

_ZK_ERRORS = (KazooTimeoutError, kazoo_exc.KazooException)
#: Requests in flight at once when pruning the trash.
_PIPELINE = 500


class Unclaimable(JobsError):
    """Another conductor holds the job, or it left the board."""


class NotOwner(JobsError):
    """This board does not hold the job's claim (any more)."""


@dataclass(frozen=True)
class BoardJob:
    """A job node and its posting, as read once when it appeared."""

    path: str
    uuid: str
    name: str
    details: Mapping[str, Any]
    priority: str
    created_on: datetime | None
    version: int
    sequence: int = field(compare=False)

    @property
    def node(self) -> str:
        return self.path.rsplit("/", 1)[1]

    @property
    def lock_path(self) -> str:
        return self.path + LOCK_SUFFIX

    @property
    def order(self) -> tuple[int, int]:
        return (_PRIORITY_RANK.get(self.priority, len(_PRIORITY_RANK)), self.sequence)


@dataclass(frozen=True)
class ConductorInfo:
    """A conductor registered on the jobboard: alive while its session lasts.

    ``name`` is the conductor's own name (the owner recorded on the jobs it
    claims); ``entity`` is TaskFlow's ``name@host:pid`` node name.
    """

    name: str
    entity: str
    hostname: str | None
    pid: int | None
    registered_at: datetime | None
    metadata: dict[str, Any] = field(default_factory=dict)


class Board:
    """One connection to the jobboard, for a poster, an API server or a conductor.

    ``who`` is the name claims are made under (a conductor's name). Listeners
    added with ``add_state_listener`` hear CONNECTED, SUSPENDED and LOST on a
    thread of their own, and may call back into the board. Only a board that
    ``watch``es learns of the jobs on it: a poster has no need to read them.
    """

    def __init__(self, settings: JobboardSettings, who: str, *, watch: bool = True) -> None:
        path = settings.path.rstrip("/")
        if not settings.path.startswith("/") or not path:
            raise ValueError(f"jobboard path must be an absolute znode path, "
                             f"not {settings.path!r}")
        self.settings = settings
        self.who = who
        self.path = path
        self._client = make_client(settings)
        self._cond = threading.Condition()
        self._jobs: dict[str, BoardJob] = {}
        self._children: frozenset[str] = frozenset()
        self._reading: set[str] = set()
        self._bad: set[str] = set()
        self._changes = 0
        self._watch: ChildrenWatch | None = None
        self._listeners: list[Callable[[str], None]] = []
        self._entity: tuple[str, bytes] | None = None
        self._lost = False
        self._closed = False
        self._watching = watch
        self._listed = False
        # Trashed name -> (czxid, ctime): a trash node never changes, so each is
        # asked about once. The next pruning turn (None: none planned yet).
        self._trash_seen: dict[str, tuple[int, int]] = {}
        self._trash_due: float | None = None
        self._pruning = threading.Lock()
        # Session changes are handled in order, on one thread of their own:
        # kazoo's own thread must never block, and a LOST must never be
        # handled after the CONNECTED that follows it.
        self._states: queue.Queue[str | None] = queue.Queue()
        self._state_thread: threading.Thread | None = None

    # connection ------------------------------------------------------------

    def connect(self) -> Board:
        try:
            self._client.start(timeout=self.settings.connect_timeout)
        except _ZK_ERRORS as exc:
            self._stop_client()
            raise BoardUnavailable(
                f"cannot connect to ZooKeeper at {self.settings.hosts_string} "
                f"within {self.settings.connect_timeout:g}s: {exc}") from exc
        try:
            self._client.ensure_path(self.path)
            self._client.ensure_path(self.settings.trash_path)
            self._state_thread = threading.Thread(target=self._state_loop, daemon=True,
                                                  name="jobboard-session")
            self._state_thread.start()
            self._client.add_listener(self._on_state)
            if self._watching:
                self._watch = ChildrenWatch(self._client, self.path, self._on_children,
                                            allow_session_lost=True)
        except _ZK_ERRORS as exc:
            self._stop_client()
            raise BoardUnavailable(f"cannot set up the jobboard at {self.path}: "
                                   f"{exc}") from exc
        return self

    def close(self) -> None:
        self._closed = True
        with self._cond:
            self._cond.notify_all()
        self._stop_client()
        self._states.put(None)

    def __enter__(self) -> Board:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _stop_client(self) -> None:
        # Listeners go first, or a deliberate stop is reported as a lost session.
        for listener in list(self._client.state_listeners):
            self._client.remove_listener(listener)
        try:
            self._client.stop()
            self._client.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            LOG.debug("Closing the ZooKeeper client failed", exc_info=True)

    @property
    def client(self) -> kazoo_client.KazooClient:
        return self._client

    @property
    def connected(self) -> bool:
        return bool(self._client.state == KazooState.CONNECTED)

    @property
    def session_id(self) -> int | None:
        client_id = self._client.client_id
        return None if client_id is None else int(client_id[0])

    def add_state_listener(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def _on_state(self, state: str) -> None:
        # Runs on kazoo's connection thread: never block it.
        if state == KazooState.LOST:
            self._lost = True
            name = LOST
        elif state == KazooState.SUSPENDED:
            name = SUSPENDED
        else:
            name = CONNECTED
        if name != CONNECTED:
            LOG.warning("ZooKeeper session %s", name.lower())
        self._states.put(name)

    def _state_loop(self) -> None:
        while (state := self._states.get()) is not None:
            self._after_state(state)

    def _after_state(self, state: str) -> None:
        if state == CONNECTED and self._lost:
            # A new session: the old one's ephemeral nodes are gone.
            self._lost = False
            LOG.warning("ZooKeeper session re-established")
            self._register_again()
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                LOG.exception("A jobboard state listener failed")
        with self._cond:
            self._changes += 1
            self._cond.notify_all()

    # the watch -------------------------------------------------------------

    def _on_children(self, children: list[str]) -> bool | None:
        if self._closed:
            return False
        names = frozenset(children)
        with self._cond:
            self._children = names
            self._listed = True
            gone = [p for p in self._jobs if p.rsplit("/", 1)[1] not in names]
            for path in gone:
                del self._jobs[path]
            self._bad &= {f"{self.path}/{n}" for n in names}
            fresh = [f"{self.path}/{n}" for n in names
                     if n.startswith(JOB_PREFIX) and not n.endswith(LOCK_SUFFIX)
                     and f"{self.path}/{n}" not in self._jobs
                     and f"{self.path}/{n}" not in self._reading
                     and f"{self.path}/{n}" not in self._bad]
            self._reading.update(fresh)
            self._changes += 1
            self._cond.notify_all()
        for path in fresh:
            request = self._client.get_async(path)
            request.rawlink(lambda req, path=path: self._on_data(path, req))
        return None

    def _on_data(self, path: str, request: Any) -> None:
        job: BoardJob | None = None
        try:
            data, stat = request.get()
            job = _job_from_node(path, data, stat)
        except kazoo_exc.NoNodeError:
            pass
        except _ZK_ERRORS:
            LOG.warning("Could not read job %s; it is read again on the next change",
                        path, exc_info=True)
        except (ValueError, TypeError, KeyError) as exc:
            LOG.warning("Ignoring malformed job node %s: %s", path, exc)
            with self._cond:
                self._bad.add(path)
        with self._cond:
            self._reading.discard(path)
            if job is not None and job.node in self._children:
                self._jobs[path] = job
            self._changes += 1
            self._cond.notify_all()

    # reading the board -----------------------------------------------------

    def jobs(self) -> list[BoardJob]:
        """Every known job, highest priority first, then in posting order."""
        with self._cond:
            return sorted(self._jobs.values(), key=lambda job: job.order)

    def unclaimed(self) -> list[BoardJob]:
        """Known jobs without a lock node, in claim order."""
        with self._cond:
            locks = self._children
            found = [job for job in self._jobs.values()
                     if job.node + LOCK_SUFFIX not in locks]
        return sorted(found, key=lambda job: job.order)

    @property
    def complete(self) -> bool:
        """Whether every job node under watch has been read: ``find`` misses nothing."""
        with self._cond:
            return self._listed and not self._reading

    def is_claimed(self, job: BoardJob) -> bool:
        with self._cond:
            return job.node + LOCK_SUFFIX in self._children

    def find(self, uuid: str) -> BoardJob | None:
        with self._cond:
            for job in self._jobs.values():
                if job.uuid == uuid:
                    return job
        return None

    @property
    def changes(self) -> int:
        """A counter that grows with every change seen on the board."""
        with self._cond:
            return self._changes

    def notify(self) -> None:
        """Count a change, waking whoever waits for one (a slot freed, a stop...)."""
        with self._cond:
            self._changes += 1
            self._cond.notify_all()

    def wait_for_change(self, seen: int, timeout: float) -> int:
        """Wait until ``changes`` passes ``seen`` (or ``timeout``); return it."""
        with self._cond:
            self._cond.wait_for(lambda: self._changes != seen or self._closed, timeout)
            return self._changes

    # posting and claims ----------------------------------------------------

    def post(self, *, uuid: str, name: str, details: Mapping[str, Any], book_uuid: str,
             book_name: str, priority: str = "NORMAL") -> BoardJob:
        data = encode_posting(uuid=uuid, name=name, details=details, book_uuid=book_uuid,
                              book_name=book_name, priority=priority)
        with self._errors("posting a job"):
            path, stat = self._client.create(f"{self.path}/{JOB_PREFIX}", data,
                                             sequence=True, include_data=True)
        job = _job_from_node(path, data, stat)
        if self._watching:
            with self._cond:
                self._jobs.setdefault(path, job)
        return job

    def claim(self, job: BoardJob) -> None:
        """Create the job's lock node; ``Unclaimable`` if someone holds it or it is gone."""
        owner = json.dumps({"owner": self.who}).encode()
        with self._errors(f"claiming job {job.uuid}"):
            txn = self._client.transaction()
            txn.check(job.path, version=job.version)
            txn.create(job.lock_path, owner, ephemeral=True)
            failure = _failure(txn.commit())
        if isinstance(failure, kazoo_exc.NodeExistsError):
            raise Unclaimable(f"job {job.uuid} is claimed by another conductor")
        if failure is not None:
            raise Unclaimable(f"job {job.uuid} left the board ({type(failure).__name__})")

    def holds(self, job: BoardJob) -> bool:
        """Whether this board's current session holds the job's lock."""
        return self._own_lock(job) is not None

    def lock_owner(self, job: BoardJob) -> str | None:
        """Who holds the job's claim now (read from ZooKeeper), or None."""
        with self._errors(f"reading the claim of job {job.uuid}"):
            try:
                data, _stat = self._client.get(job.lock_path)
            except kazoo_exc.NoNodeError:
                return None
        try:
            owner = json.loads(data.decode("utf-8")).get("owner")
        except (ValueError, AttributeError):
            return "?"
        return str(owner) if owner is not None else "?"

    def lock_exists(self, job: BoardJob) -> bool:
        with self._errors(f"reading the claim of job {job.uuid}"):
            return self._client.exists(job.lock_path) is not None

    def consume(self, job: BoardJob) -> None:
        """Remove a finished job and its claim from the board."""
        lock_version = self._require_lock(job)
        with self._errors(f"removing finished job {job.uuid}"):
            txn = self._client.transaction()
            txn.delete(job.lock_path, version=lock_version)
            txn.delete(job.path)
            self._check(txn.commit(), job)
        self._forget(job)

    def abandon(self, job: BoardJob) -> None:
        """Release the claim so another conductor may take the job."""
        lock_version = self._require_lock(job)
        with self._errors(f"releasing job {job.uuid}"):
            txn = self._client.transaction()
            txn.delete(job.lock_path, version=lock_version)
            self._check(txn.commit(), job)

    def trash(self, job: BoardJob) -> None:
        """Move a job no conductor may run to the trash, with its posting."""
        lock_version = self._require_lock(job)
        with self._errors(f"trashing job {job.uuid}"):
            data, _stat = self._client.get(job.path)
            txn = self._client.transaction()
            txn.create(f"{self.settings.trash_path}/{job.node}", data)
            txn.delete(job.lock_path, version=lock_version)
            txn.delete(job.path)
            self._check(txn.commit(), job)
        self._forget(job)

    def _own_lock(self, job: BoardJob) -> int | None:
        with self._errors(f"reading the claim of job {job.uuid}"):
            try:
                _data, stat = self._client.get(job.lock_path)
            except kazoo_exc.NoNodeError:
                return None
        # Asked after the read: while disconnected kazoo knows no session, and
        # the read may have waited for the connection to come back.
        session = self.session_id
        if session is None:
            raise BoardUnavailable(f"job {job.uuid}: the ZooKeeper connection dropped "
                                   "again; whose claim it is cannot be told now")
        if stat.ephemeralOwner != session:
            return None
        return int(stat.version)

    def _require_lock(self, job: BoardJob) -> int:
        version = self._own_lock(job)
        if version is None:
            raise NotOwner(f"job {job.uuid}: this conductor's session does not hold "
                           "its claim")
        return version

    def _check(self, results: list[Any], job: BoardJob) -> None:
        failure = _failure(results)
        if failure is not None:
            raise NotOwner(f"job {job.uuid} changed under this conductor "
                           f"({type(failure).__name__})")

    def _forget(self, job: BoardJob) -> None:
        with self._cond:
            self._jobs.pop(job.path, None)

    # conductors ------------------------------------------------------------

    def register_conductor(self, name: str, metadata: Mapping[str, Any]) -> str:
        """Announce a live conductor (an ephemeral node; again after a new session)."""
        hostname = socket.gethostname()
        entity = f"{name}@{hostname}:{os.getpid()}"
        doc = {"kind": CONDUCTOR_KIND, "name": entity,
               "metadata": {"hostname": hostname, "pid": os.getpid(), **metadata}}
        self._entity = (entity, json.dumps(doc).encode())
        self._register_again()
        return entity

    def update_conductor(self, metadata: Mapping[str, Any]) -> None:
        """Change what this conductor's entity node says (its flows, after a reload)."""
        if self._entity is None:
            return
        entity, data = self._entity
        doc = json.loads(data)
        doc["metadata"].update(metadata)
        self._entity = (entity, json.dumps(doc).encode())
        path = f"{self.settings.entity_path}/{CONDUCTOR_KIND}/{entity}"
        try:
            self._client.set(path, self._entity[1])
        except kazoo_exc.NoNodeError:
            self._register_again()
        except _ZK_ERRORS:
            LOG.warning("Could not update conductor %s; it is updated on the next "
                        "session", entity, exc_info=True)

    def _register_again(self) -> None:
        if self._entity is None:
            return
        entity, data = self._entity
        folder = f"{self.settings.entity_path}/{CONDUCTOR_KIND}"
        try:
            self._client.ensure_path(folder)
            self._client.create(f"{folder}/{entity}", data, ephemeral=True)
        except kazoo_exc.NodeExistsError:
            pass
        except _ZK_ERRORS:
            LOG.warning("Could not register conductor %s; trying again on the next "
                        "session", entity, exc_info=True)

    def alive_conductors(self) -> list[ConductorInfo]:
        """The conductors whose ephemeral entity nodes exist now, sorted by name."""
        folder = f"{self.settings.entity_path}/{CONDUCTOR_KIND}"
        try:
            children = self._client.get_children(folder)
        except kazoo_exc.NoNodeError:
            return []
        except _ZK_ERRORS as exc:
            raise BoardUnavailable(f"cannot list conductors under {folder}: {exc}") from exc
        found = []
        for child in children:
            try:
                data, stat = self._client.get(f"{folder}/{child}")
            except kazoo_exc.NoNodeError:
                continue  # it went away between the listing and the read
            except _ZK_ERRORS as exc:
                raise BoardUnavailable(f"cannot read conductor {child}: {exc}") from exc
            found.append(_conductor_info(child, data, stat))
        return sorted(found, key=lambda c: (c.name, c.entity))

    # the trash -------------------------------------------------------------

    def prune_trash_if_due(self) -> bool:
        """Start pruning the trash on a thread of its own if this board's turn has come.

        Never raises and never blocks: it is housekeeping. Turns come every
        ``trash_prune_interval`` seconds, the first at a random point of the
        first interval, so conductors started together do not prune together.
        """
        interval = self.settings.trash_prune_interval
        now = time.monotonic()
        if self._trash_due is None:
            self._trash_due = now + random.uniform(0.0, interval)
        if now < self._trash_due or self._closed or self._pruning.locked():
            return False
        self._trash_due = now + interval
        threading.Thread(target=self._prune_quietly, daemon=True,
                         name="jobboard-trash").start()
        return True

    def _prune_quietly(self) -> None:
        try:
            pruned = self.prune_trash()
        except (BoardUnavailable, kazoo_exc.NoNodeError) as exc:
            if not self._closed:
                LOG.warning("Pruning the jobboard's trash failed; trying again in %gs: %s",
                            self.settings.trash_prune_interval, exc)
            return
        except Exception:
            LOG.exception("Pruning the jobboard's trash failed unexpectedly")
            return
        if pruned:
            LOG.info("Pruned %d trashed posting(s) from %s", pruned,
                     self.settings.trash_path)

    def prune_trash(self) -> int:
        """Delete trashed postings older than ``trash_retention``, then the oldest
        beyond ``trash_max_entries``; return how many this call deleted.

        A few requests: the listing, one look at each posting trashed since the
        last call, and the deletes. Several boards may prune at once: a posting
        another deleted first is skipped, and the count limit keeps the newest
        of each pruner's listing (ZooKeeper's creation order), so together they
        never leave fewer than the limit, bar those old enough to go anyway.
        Ages are told by this host's clock against ZooKeeper's creation times.
        """
        retention = self.settings.trash_retention
        limit = self.settings.trash_max_entries
        if retention <= 0 and limit <= 0:
            return 0
        folder = self.settings.trash_path
        with self._pruning, self._errors("pruning the jobboard's trash"):
            try:
                names = self._client.get_children(folder)
            except kazoo_exc.NoNodeError:
                return 0
            if retention <= 0 and len(names) <= limit:
                return 0
            seen = self._trash_entries(folder, names)
            oldest_first = sorted(seen, key=seen.__getitem__)
            cutoff = (time.time() - retention) * 1000
            doomed = [n for n in oldest_first if retention > 0 and seen[n][1] < cutoff]
            young = [n for n in oldest_first if retention <= 0 or seen[n][1] >= cutoff]
            if 0 < limit < len(young):
                doomed += young[:len(young) - limit]
            return self._delete_trashed(folder, doomed)

    def _trash_entries(self, folder: str, names: list[str]) -> dict[str, tuple[int, int]]:
        listed = set(names)
        for name in [n for n in self._trash_seen if n not in listed]:
            del self._trash_seen[name]
        unknown = [n for n in names if n not in self._trash_seen]
        for start in range(0, len(unknown), _PIPELINE):
            asked = [(n, self._client.exists_async(f"{folder}/{n}"))
                     for n in unknown[start:start + _PIPELINE]]
            for name, request in asked:
                stat = request.get(timeout=self.settings.connect_timeout)
                if stat is not None:
                    self._trash_seen[name] = (int(stat.czxid), int(stat.ctime))
        return {n: self._trash_seen[n] for n in names if n in self._trash_seen}

    def _delete_trashed(self, folder: str, doomed: list[str]) -> int:
        deleted = 0
        for start in range(0, len(doomed), _PIPELINE):
            asked = [(n, self._client.delete_async(f"{folder}/{n}"))
                     for n in doomed[start:start + _PIPELINE]]
            for name, request in asked:
                self._trash_seen.pop(name, None)
                try:
                    request.get(timeout=self.settings.connect_timeout)
                except kazoo_exc.NoNodeError:
                    continue  # another pruner was first
                except kazoo_exc.NotEmptyError:
                    LOG.warning("Not pruning %s/%s: it has children", folder, name)
                    continue
                deleted += 1
        return deleted

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except kazoo_exc.NoNodeError:
            raise
        except _ZK_ERRORS as exc:
            detail = str(exc) or "no answer from ZooKeeper"
            raise BoardUnavailable(f"{action} failed: {type(exc).__name__}: "
                                   f"{detail}") from exc


@contextmanager
def open_jobboard(settings: JobboardSettings, who: str, *,
                  watch: bool = True) -> Iterator[Board]:
    """Connect a board, yield it, and close it afterwards."""
    board = Board(settings, who, watch=watch).connect()
    try:
        yield board
    finally:
        board.close()


def alive_conductors(board: Board) -> list[ConductorInfo]:
    return board.alive_conductors()


def _failure(results: list[Any]) -> BaseException | None:
    """The error that failed a transaction (others report RolledBackError)."""
    errors = [r for r in results if isinstance(r, Exception)]
    for error in errors:
        if not isinstance(error, kazoo_exc.RolledBackError):
            return error
    return errors[0] if errors else None


def _job_from_node(path: str, data: bytes, stat: Any) -> BoardJob:
    doc = json.loads(data.decode("utf-8"))
    if not isinstance(doc, dict):
        raise ValueError("the posting is not a JSON object")
    node = path.rsplit("/", 1)[1]
    details = doc.get("details") or {}
    if not isinstance(details, dict):
        raise ValueError("the posting's details are not an object")
    return BoardJob(
        path=path,
        uuid=str(doc["uuid"]),
        name=str(doc["name"]),
        details=details,
        priority=str(doc.get("priority") or "NORMAL"),
        created_on=datetime.fromtimestamp(stat.ctime / 1000, UTC) if stat else None,
        version=int(stat.version),
        sequence=int(node[len(JOB_PREFIX):]),
    )


def _conductor_info(entity: str, data: bytes, stat: Any) -> ConductorInfo:
    try:
        doc = json.loads(data.decode("utf-8")) if data else {}
    except (UnicodeDecodeError, ValueError):
        doc = {}
    metadata = doc.get("metadata") if isinstance(doc, dict) else None
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    pid = metadata.get("pid")
    hostname = metadata.get("hostname")
    name = metadata.get("name")
    return ConductorInfo(
        name=str(name) if isinstance(name, str) else entity.split("@", 1)[0],
        entity=entity,
        hostname=str(hostname) if isinstance(hostname, str) else None,
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        registered_at=datetime.fromtimestamp(stat.ctime / 1000, UTC) if stat else None,
        metadata=metadata,
    )
