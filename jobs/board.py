"""The ZooKeeper jobboard, behind a small typed facade over TaskFlow and kazoo."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kazoo import client as kazoo_client
from kazoo import exceptions as kazoo_exc
from kazoo.handlers.threading import KazooTimeoutError
from taskflow import exceptions as tf_exc
from taskflow.jobs import base as tf_jobs
from taskflow.jobs.backends import impl_zookeeper
from taskflow.persistence import base as tf_persistence

from jobs.errors import BoardUnavailable, JobsError

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobboardSettings:
    hosts: Sequence[str] = ("127.0.0.1:2181",)
    path: str = "/orchestrator/jobs"
    session_timeout: float = 10.0
    connect_timeout: float = 10.0
    username: str | None = None
    password: str | None = None
    use_ssl: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    key_password: str | None = None
    verify_certs: bool = True

    @property
    def hosts_string(self) -> str:
        return ",".join(self.hosts)

    @property
    def entity_path(self) -> str:
        parent = self.path.rsplit("/", 1)[0]
        return f"{parent}/{impl_zookeeper.ZookeeperJobBoard.ENTITY_FOLDER}"

    @property
    def trash_path(self) -> str:
        parent = self.path.rsplit("/", 1)[0]
        return f"{parent}/{impl_zookeeper.ZookeeperJobBoard.TRASH_FOLDER}"


# Claim order: highest priority first (TaskFlow's JobPriority names, as posted).
_PRIORITY_RANK = {p: rank for rank, p in enumerate(
    (tf_jobs.JobPriority.VERY_HIGH, tf_jobs.JobPriority.HIGH, tf_jobs.JobPriority.NORMAL,
     tf_jobs.JobPriority.LOW, tf_jobs.JobPriority.VERY_LOW))}


class PriorityJobBoard(impl_zookeeper.ZookeeperJobBoard):
    """TaskFlow's ZooKeeper jobboard, handing out jobs highest priority first.

    Stock TaskFlow 6.5 sorts its jobs with ``ZookeeperJob.__lt__``, which
    ranks a higher priority as greater, so conductors see the LOWEST
    priority first. Here: by priority, then in posting order.
    """

    def _fetch_jobs(self, ensure_fresh: bool = False) -> list[Any]:
        fetched = super()._fetch_jobs(ensure_fresh)
        return sorted(fetched, key=lambda job: (
            _PRIORITY_RANK.get(job.priority, len(_PRIORITY_RANK)), job.sequence))


def make_client(settings: JobboardSettings) -> kazoo_client.KazooClient:
    kwargs: dict[str, Any] = {
        "hosts": settings.hosts_string,
        "timeout": settings.session_timeout,
    }
    if settings.username:
        kwargs["auth_data"] = [("digest", f"{settings.username}:{settings.password or ''}")]
    if settings.use_ssl:
        kwargs.update(
            use_ssl=True,
            ca=settings.ca_file,
            certfile=settings.cert_file,
            keyfile=settings.key_file,
            keyfile_password=settings.key_password,
            verify_certs=settings.verify_certs,
        )
    return kazoo_client.KazooClient(**kwargs)


@contextlib.contextmanager
def open_jobboard(
    settings: JobboardSettings,
    name: str,
    persistence: tf_persistence.Backend | None = None,
) -> Iterator[PriorityJobBoard]:
    """Connect a jobboard, yield it, and close it and its client afterwards."""
    if not settings.path.startswith("/") or settings.path.rstrip("/") == "":
        raise ValueError(f"jobboard path must be an absolute znode path, not {settings.path!r}")
    client = make_client(settings)
    # check_compatible sends the 'envi' four-letter command, which ZooKeeper
    # 3.5+ refuses unless whitelisted; every supported server has transactions.
    conf = {"path": settings.path, "check_compatible": False}
    board = PriorityJobBoard(name, conf, client=client, persistence=persistence)
    try:
        board.connect(timeout=settings.connect_timeout)
    except (tf_exc.JobFailure, KazooTimeoutError, kazoo_exc.KazooException) as exc:
        _close_quietly(board, client)
        raise BoardUnavailable(
            f"cannot connect to ZooKeeper at {settings.hosts_string} "
            f"within {settings.connect_timeout:g}s: {exc}"
        ) from exc
    try:
        yield board
    finally:
        _close_quietly(board, client)


def _close_quietly(board: impl_zookeeper.ZookeeperJobBoard,
                   client: kazoo_client.KazooClient) -> None:
    # The board only closes clients it created; this one is ours. Its listeners
    # go first, or a deliberate stop is logged as a lost connection.
    try:
        board.close()
    finally:
        for listener in list(client.state_listeners):
            client.remove_listener(listener)
        with contextlib.suppress(Exception):
            client.stop()
            client.close()


#: TaskFlow's entity kind for conductors (``Conductor.ENTITY_KIND``).
CONDUCTOR_KIND = "conductor"


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


def alive_conductors(board: impl_zookeeper.ZookeeperJobBoard) -> list[ConductorInfo]:
    """The conductors whose ephemeral entity nodes exist now, sorted by name."""
    # The board keeps the kazoo client open_jobboard gave it.
    client: kazoo_client.KazooClient = board._client
    path = f"{board.entity_path}/{CONDUCTOR_KIND}"
    try:
        children = client.get_children(path)
    except kazoo_exc.NoNodeError:
        return []
    except (KazooTimeoutError, kazoo_exc.KazooException) as exc:
        raise JobsError(f"cannot list conductors under {path}: {exc}") from exc
    found = []
    for child in children:
        try:
            data, stat = client.get(f"{path}/{child}")
        except kazoo_exc.NoNodeError:
            continue  # it went away between the listing and the read
        except (KazooTimeoutError, kazoo_exc.KazooException) as exc:
            raise JobsError(f"cannot read conductor {child}: {exc}") from exc
        found.append(_conductor_info(child, data, stat))
    return sorted(found, key=lambda c: (c.name, c.entity))


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
