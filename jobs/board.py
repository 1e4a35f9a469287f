"""The ZooKeeper jobboard, behind a small typed facade over TaskFlow and kazoo."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from kazoo import client as kazoo_client
from kazoo import exceptions as kazoo_exc
from kazoo.handlers.threading import KazooTimeoutError
from taskflow import exceptions as tf_exc
from taskflow.jobs.backends import impl_zookeeper
from taskflow.persistence import base as tf_persistence

from jobs.errors import BoardUnavailable

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
) -> Iterator[impl_zookeeper.ZookeeperJobBoard]:
    """Connect a jobboard, yield it, and close it and its client afterwards."""
    if not settings.path.startswith("/") or settings.path.rstrip("/") == "":
        raise ValueError(f"jobboard path must be an absolute znode path, not {settings.path!r}")
    client = make_client(settings)
    # check_compatible sends the 'envi' four-letter command, which ZooKeeper
    # 3.5+ refuses unless whitelisted; every supported server has transactions.
    conf = {"path": settings.path, "check_compatible": False}
    board = impl_zookeeper.ZookeeperJobBoard(name, conf, client=client,
                                             persistence=persistence)
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
