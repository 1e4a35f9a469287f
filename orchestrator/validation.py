"""Checks on what callers hand the service, made before anything is written.

A job's flow name, store and document are written to the database and to
ZooKeeper, read back by conductors, and sent as UTF-8 JSON by the API and the
CLI. A value one of them cannot hold must be refused here, as the caller's
mistake, rather than found half-way through a post (leaving a partial job) or
on every later listing that includes the job:

* NUL: PostgreSQL's text and JSONB types refuse it.
* An unpaired surrogate (JSON ``"\\ud800"`` decodes to one): UTF-8 cannot
  encode it, so the job could be stored but never shown.
* Deep nesting: JSON encoders and decoders recurse, and give up (pydantic's
  serializer at 255 levels, Python's at its recursion limit).
* A posting larger than ZooKeeper takes: it drops the connection that sent it.

Every function raises an ``orchestrator.errors.InvalidRequest`` subclass.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from jobs import MAX_POSTING_BYTES, JobSpec, posting_size
from orchestrator.errors import (
    InvalidRequest,
    InvalidStore,
    InvalidText,
    JobTooLarge,
    NestingTooDeep,
)

DEFAULT_MAX_NESTING_DEPTH = 64
#: The highest ``[api] max_nesting_depth`` accepted: responses wrap a job's
#: values in a few more levels, and must stay under pydantic's 255.
MAX_NESTING_DEPTH_LIMIT = 200

# What no stored text may hold: NUL, and surrogates (paired ones never reach
# a Python str: the JSON decoder joins them into one character).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


def check_text(value: str, what: str) -> None:
    """Refuse text holding NUL or an unpaired surrogate; ``what`` names it."""
    found = _UNSTORABLE.search(value)
    if found is not None:
        raise InvalidText(what, found.group())


def check_json(value: object, what: str, *, max_depth: int) -> None:
    """Check every key and string inside ``value``, and how deeply it nests.

    ``value`` itself is depth 1 when it is an object or an array; scalars add
    no depth. The walk keeps its own stack, so no input can exhaust Python's
    (and a container holding itself is refused for its depth).
    """
    # Each container remembers (parent, key) only: a path is spelled out on
    # failure, not built for every one of a large store's values. Concrete
    # types are tested before the ABCs: those isinstance() calls dominated.
    pending: list[tuple[object, int, _Path]] = [(value, 1, None)]
    while pending:
        item, depth, path = pending.pop()
        children: Iterable[tuple[object, object]]
        if isinstance(item, list | tuple):
            children = enumerate(item)
        elif isinstance(item, dict | Mapping):
            children = item.items()
        else:
            if isinstance(item, str) and _unstorable(item):
                check_text(item, _spell(what, path))
            continue
        if depth > max_depth:
            raise NestingTooDeep(_shortened(_spell(what, path)), max_depth)
        for key, child in children:
            if isinstance(key, str) and _unstorable(key):
                check_text(key, f"a key in {_spell(what, path)} ({key!r})")
            if type(child) in _SCALARS:
                continue
            if isinstance(child, str):
                if _unstorable(child):
                    check_text(child, _spell(what, (path, key)))
            elif isinstance(child, dict | list | tuple | Mapping):
                pending.append((child, depth + 1, (path, key)))


def _unstorable(text: str) -> bool:
    # ASCII text (nearly all of it) can only hold NUL, and 'in' finds that fastest.
    return "\x00" in text if text.isascii() else _UNSTORABLE.search(text) is not None


# A container's place: None for the top, else (its parent's place, its key).
_Path = tuple[Any, object] | None
_SCALARS = frozenset({int, float, bool, type(None)})


def _spell(what: str, path: _Path) -> str:
    keys: list[object] = []
    while path is not None:
        path, key = path
        keys.append(key)
    return what + "".join(f"[{key!r}]" for key in reversed(keys))


def _shortened(where: str, keep: int = 80) -> str:
    # A path 65 levels deep says no more than its start does.
    return where if len(where) <= keep else where[:keep] + "..."


def check_posting_size(flow_name: str, store: Mapping[str, Any], *,
                       priority: str = "NORMAL") -> int:
    """Refuse a job whose posting would exceed what the jobboard takes; return its size.

    The posting is encoded as the jobboard will encode it; the ids it will
    hold are fixed-size, so placeholders measure the same.
    """
    spec = JobSpec(job_id=_PLACEHOLDER_ID, flow_name=flow_name,
                   flow_detail_id=_PLACEHOLDER_ID, store=store)
    try:
        size = posting_size(spec, name=flow_name, priority=priority)
    except ValueError as exc:  # what check_json would have refused, had it run
        raise InvalidStore(f"the job cannot be encoded: {exc}") from exc
    if size > MAX_POSTING_BYTES:
        raise JobTooLarge(size, MAX_POSTING_BYTES)
    return size


def check_time(value: datetime | None, what: str) -> None:
    """A listing bound must name its timezone and lie within what UTC can express."""
    if value is None:
        return
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRequest(f"{what} must include a timezone (e.g. +00:00 or Z)")
    try:
        value.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidRequest(f"{what} is out of range: {value.isoformat()} is not a "
                             "time between the years 1 and 9999 in UTC") from exc


__all__ = [
    "DEFAULT_MAX_NESTING_DEPTH",
    "MAX_NESTING_DEPTH_LIMIT",
    "check_json",
    "check_posting_size",
    "check_text",
    "check_time",
]
