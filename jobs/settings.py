"""How to reach the jobboard: plain settings, importable without kazoo."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Siblings of the board's folder (``path``): the conductors' ephemeral
# nodes, and the postings no conductor may run.
TRASH_FOLDER = ".trash"
ENTITY_FOLDER = ".entities"
SCHEDULER_FOLDER = ".scheduler"


@dataclass(frozen=True)
class JobboardSettings:
    hosts: Sequence[str] = ("127.0.0.1:2181",)
    path: str = "/orchestrator/jobs"
    session_timeout: float = 2.0
    connect_timeout: float = 10.0
    username: str | None = None
    password: str | None = None
    use_ssl: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    key_password: str | None = None
    verify_certs: bool = True
    #: Seconds a trashed posting is kept (0: for ever), and how many are kept at
    #: most, the newest (0: no limit); conductors prune every interval seconds.
    trash_retention: float = 7 * 24 * 3600.0
    trash_max_entries: int = 10_000
    trash_prune_interval: float = 600.0

    @property
    def hosts_string(self) -> str:
        return ",".join(self.hosts)

    @property
    def _parent(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[0]

    @property
    def entity_path(self) -> str:
        return f"{self._parent}/{ENTITY_FOLDER}"

    @property
    def trash_path(self) -> str:
        return f"{self._parent}/{TRASH_FOLDER}"

    @property
    def scheduler_path(self) -> str:
        """Where conductors elect the one that fires schedules (``jobs.leader``)."""
        return f"{self._parent}/{SCHEDULER_FOLDER}"
