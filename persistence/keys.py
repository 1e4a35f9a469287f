"""Concurrency keys: their tables, and the reads the claim and ``jobs explain`` make.

A job carries keys (``node:4f2a``); at most N jobs sharing a key run at once.
``orchestrator_job_keys`` lists each job's keys, ``orchestrator_key_holds`` the
slots held by running jobs. The writes belong to the job lifecycle
(``jobs.keys``), in the transactions that claim and release jobs.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, and_, literal, or_, select

from persistence.models import JobKeyRow, JobRow, KeyHoldRow
from persistence.records import PRIORITIES, JobRecord, JobState

JOB_KEYS = cast(Table, JobKeyRow.__table__)
KEY_HOLDS = cast(Table, KeyHoldRow.__table__)
_jobs = cast(Table, JobRow.__table__)
_WAITING = [JobState.POSTED.value, JobState.SUSPENDED.value]


@dataclass(frozen=True)
class KeyHold:
    """One slot of ``key`` held by job ``job_id`` since ``since``; ``limit`` slots in all."""

    key: str
    slot: int
    job_id: str
    limit: int
    since: datetime


def key_holds(connection: Any, keys: Collection[str]) -> list[KeyHold]:
    """The slots held now of any of ``keys``, by key then slot."""
    if not keys:
        return []
    h = KEY_HOLDS.c
    rows = connection.execute(
        select(h.key, h.slot, h.job_id, h.key_limit, h.since)
        .where(h.key.in_(sorted(keys))).order_by(h.key, h.slot))
    return [KeyHold(r.key, r.slot, r.job_id, r.key_limit, r.since) for r in rows]


def waiting_before(connection: Any, record: JobRecord,
                   now: datetime) -> tuple[str, str] | None:
    """A job that shares a key with ``record`` and goes first: waiting and
    claimable now, of a higher priority or of the same one and posted
    earlier. ``(key, job id)``, or None when ``record`` is first in line."""
    rank = {name: i for i, name in enumerate(PRIORITIES)}
    mine = rank.get(record.priority, len(PRIORITIES))
    higher = [p for p in PRIORITIES if rank[p] < mine]
    k, j = JOB_KEYS.c, _jobs.c
    created = literal(record.created_at, j.created_at.type)
    at = literal(now, j.not_before.type)
    row = connection.execute(
        select(k.key, k.job_id).join(_jobs, j.id == k.job_id)
        .where(k.key.in_(sorted(record.concurrency_keys)), k.job_id != record.id,
               j.state.in_(_WAITING), or_(j.not_before.is_(None), j.not_before <= at),
               or_(j.priority.in_(higher),
                   and_(j.priority == record.priority, j.created_at < created)))
        .limit(1)).first()
    return None if row is None else (row.key, row.job_id)
