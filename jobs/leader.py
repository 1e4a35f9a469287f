"""Leadership among the processes of one jobboard, held by an ephemeral node.

One node, ``<parent of the board>/.scheduler/leader``, holds the leader's
name. Whoever creates it leads for as long as its ZooKeeper session lives:
killed or cut off, its session expires, the node goes, and the next
contender to look creates it. A contender asks each turn, and leads only if
the node's ephemeral owner is its own session: a leader whose session
expired while it was stalled learns so at its next turn, without relying on
a notification (kazoo's Lock recipe keeps saying ``is_acquired`` after its
session is gone). What leadership guards must still be safe when two
processes believe they lead for a moment (the schedules are: see
``persistence.schedules``).
"""

from __future__ import annotations

import logging

from kazoo import client as kazoo_client
from kazoo import exceptions as kazoo_exc
from kazoo.handlers.threading import KazooTimeoutError
from kazoo.protocol.states import KazooState

LOG = logging.getLogger(__name__)

_ZK_ERRORS = (KazooTimeoutError, kazoo_exc.KazooException)
LEADER_NODE = "leader"


class Leadership:
    """One contender for the leadership at ``path`` (a folder), named ``identifier``."""

    def __init__(self, client: kazoo_client.KazooClient, path: str, identifier: str) -> None:
        self._client = client
        self.path = f"{path.rstrip('/')}/{LEADER_NODE}"
        self.identifier = identifier
        self._leading = False

    def lead(self) -> bool:
        """Whether this contender leads now; takes the leadership if it is free.

        False while the session is not connected, or ZooKeeper does not answer.
        """
        leading = self._check()
        if leading != self._leading:
            LOG.warning("%s %s the scheduler leadership", self.identifier,
                        "took" if leading else "lost")
            self._leading = leading
        return leading

    def _check(self) -> bool:
        if self._client.state != KazooState.CONNECTED:
            return False
        try:
            self._client.create(self.path, self.identifier.encode(), ephemeral=True,
                                makepath=True)
            return True
        except kazoo_exc.NodeExistsError:
            pass
        except _ZK_ERRORS:
            LOG.debug("Cannot take the leadership at %s", self.path, exc_info=True)
            return False
        try:
            _data, stat = self._client.get(self.path)
        except _ZK_ERRORS:  # gone since (its owner's session ended): next turn
            return False
        session = self._client.client_id
        return session is not None and stat.ephemeralOwner == session[0]

    def leader(self) -> str | None:
        """The name of the leader now, or None."""
        try:
            data, _stat = self._client.get(self.path)
        except kazoo_exc.NoNodeError:
            return None
        except _ZK_ERRORS:
            return None
        return bytes(data).decode(errors="replace")

    def resign(self) -> None:
        """Give the leadership up, if this contender holds it (best effort)."""
        if not self._leading:
            return
        self._leading = False
        try:
            _data, stat = self._client.get(self.path)
            session = self._client.client_id
            if session is not None and stat.ephemeralOwner == session[0]:
                self._client.delete(self.path, version=stat.version)
        except _ZK_ERRORS:
            LOG.debug("Resigning the leadership at %s failed", self.path, exc_info=True)
