"""JSON views of schedules and their fires: one shape for the CLI and the API.

Timestamps are ISO 8601 in UTC, as ``orchestrator.views`` writes them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import persistence
from orchestrator.schedules.service import ScheduleView


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


def fire_dict(fire: persistence.FireRecord) -> dict[str, Any]:
    return {"fire_at": _ts(fire.fire_at), "outcome": fire.outcome, "job_id": fire.job_id,
            "detail": fire.detail, "recorded_at": _ts(fire.recorded_at)}


def schedule_dict(view: ScheduleView, *, with_fires: bool = False) -> dict[str, Any]:
    """The schedule; ``next_fires`` is empty while it is paused."""
    record = view.record
    shown: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "flow": record.flow_name,
        "store": record.store,
        "priority": record.priority,
        "cron": record.cron,
        "timezone": record.timezone,
        "missed": record.missed,
        "paused": record.paused,
        "created_at": _ts(record.created_at),
        "updated_at": _ts(record.updated_at),
        "created_by": record.created_by,
        "next_fires": [_ts(when) for when in view.preview],
    }
    if with_fires:
        shown["fires"] = [fire_dict(fire) for fire in view.fires]
    return shown
