"""Concurrency keys: at most N running jobs share a key, across all conductors.

A job carries keys such as ``node:4f2a`` or ``volume:42`` (Ironic's node lock,
made durable). N is configured per key prefix (the part before the first
``:``), 1 unless configured. The claim of a job takes one slot of each of its
keys in the claim's own transaction; the transaction that ends the claim
(finished, handed back, lost, quarantined) frees them. A slot is a row whose
primary key is (key, slot number): two claims racing for the last slot cannot
both insert it, whatever the number of conductors, on SQLite (writers take
turns) and on PostgreSQL (the second insert waits for the first to commit,
then finds the row).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

import persistence
from persistence.keys import JOB_KEYS, KEY_HOLDS, key_holds, waiting_before

#: A key: printable, no whitespace, at most 255 characters.
_KEY_RE = re.compile(r"^[^\s]{1,255}$")
MAX_KEYS = 16


class InvalidKey(ValueError):
    """A concurrency key, a key template or a limit is malformed."""


class KeysBusy(Exception):  # noqa: N818 - a claim's answer, not an error
    """The job cannot take its keys now; ``reason`` says which key and who has it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class KeyLimits:
    """How many running jobs may share a key, by key prefix."""

    by_prefix: Mapping[str, int] = field(default_factory=dict)
    default: int = 1

    def __post_init__(self) -> None:
        for prefix, limit in {**self.by_prefix, "(default)": self.default}.items():
            if not isinstance(limit, int) or limit < 1:
                raise InvalidKey(f"the concurrency limit of {prefix!r} must be a whole "
                                 f"number of at least 1, not {limit!r}")

    def limit(self, key: str) -> int:
        return self.by_prefix.get(prefix(key), self.default)

    @classmethod
    def parse(cls, limits: Mapping[str, str], default: int = 1) -> KeyLimits:
        """From configuration: ``{"node": "1", "volume": "3"}``."""
        parsed = {}
        for name, value in limits.items():
            try:
                parsed[name] = int(value)
            except (TypeError, ValueError):
                raise InvalidKey(f"the concurrency limit of {name!r} must be a whole "
                                 f"number, not {value!r}") from None
        return cls(parsed, default)


def prefix(key: str) -> str:
    """The part of ``key`` before its first ``:`` (the whole key without one)."""
    return key.split(":", 1)[0]


def normalize_keys(keys: Iterable[str]) -> tuple[str, ...]:
    """Check keys and return them without repeats, in a stable (sorted) order."""
    found = set()
    for key in keys:
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise InvalidKey(f"invalid concurrency key {key!r}: 1 to 255 characters, "
                             "no spaces (for example node:4f2a)")
        found.add(key)
    if len(found) > MAX_KEYS:
        raise InvalidKey(f"a job carries at most {MAX_KEYS} concurrency keys, "
                         f"not {len(found)}")
    return tuple(sorted(found))


def render_keys(templates: Iterable[str], store: Mapping[str, Any]) -> tuple[str, ...]:
    """Keys from templates over the store: ``node:{node}`` with node=4f2a -> node:4f2a.

    Only plain ``{name}`` fields are allowed, naming store keys whose values
    are strings or numbers.
    """
    keys = []
    for template in templates:
        values = {}
        try:
            fields = [f for _text, f, _spec, _conv in string.Formatter().parse(template)
                      if f is not None]
        except ValueError as exc:
            raise InvalidKey(f"invalid concurrency key template {template!r}: {exc}") from None
        for name in fields:
            if not name.isidentifier():
                raise InvalidKey(f"concurrency key template {template!r}: use plain "
                                 f"{{name}} fields, not {{{name}}}")
            value = store.get(name)
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise InvalidKey(f"concurrency key template {template!r} needs store key "
                                 f"{name!r} as a string or a number")
            values[name] = value
        keys.append(template.format_map(values))
    return normalize_keys(keys)


# -- in the lifecycle's transactions --------------------------------------------


def record(connection: Any, job_id: str, keys: Iterable[str]) -> None:
    """List a new job's keys (posting)."""
    rows = [{"job_id": job_id, "key": key} for key in keys]
    if rows:
        connection.execute(sa.insert(JOB_KEYS), rows)


def take(connection: Any, job: persistence.JobRecord, limits: KeyLimits,
         now: datetime) -> None:
    """Take a slot of each of the claimed job's keys, or raise ``KeysBusy``
    (the caller rolls the claim back). A job sharing a key that goes first
    (priority, then posting order) is left its turn."""
    ahead = waiting_before(connection, job, now)
    if ahead is not None:
        raise KeysBusy(f"job {ahead[1]} waits for key {ahead[0]} and goes first")
    held: dict[str, list[persistence.KeyHold]] = {}
    for hold in key_holds(connection, job.concurrency_keys):
        held.setdefault(hold.key, []).append(hold)
    insert = persistence.upsert_insert(connection.dialect.name)
    for key in job.concurrency_keys:  # sorted: claims take keys in one order
        limit = limits.limit(key)
        taken = {h.slot for h in held.get(key, [])}
        free = [slot for slot in range(limit) if slot not in taken]
        if free:
            stmt = (insert(KEY_HOLDS).values(key=key, slot=free[0], job_id=job.id,
                                             since=now, key_limit=limit)
                    .on_conflict_do_nothing().returning(KEY_HOLDS.c.slot))
            # RETURNING, not rowcount: psycopg reports -1 for this INSERT.
            if connection.execute(stmt).first() is not None:
                continue
        holders = ", ".join(h.job_id for h in held.get(key, [])) or "another job"
        raise KeysBusy(f"key {key} is held by job {holders} (limit {limit})")


def free(connection: Any, job_id: str) -> None:
    """Free every slot the job holds (its claim ends)."""
    connection.execute(sa.delete(KEY_HOLDS).where(KEY_HOLDS.c.job_id == job_id))

