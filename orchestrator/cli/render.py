"""Stable JSON renderings of records for scripts."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from orchestrator.service import JobRecord


def _ts(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def job_dict(record: JobRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "flow": record.flow_name,
        "state": record.state.value,
        "attempts": record.attempts,
        "owner": record.owner,
        "created_at": _ts(record.created_at),
        "started_at": _ts(record.started_at),
        "finished_at": _ts(record.finished_at),
        "last_error": record.last_error,
        "logbook_id": record.logbook_id,
        "flow_detail_id": record.flow_detail_id,
        "store": record.store,
    }


def job_json(record: JobRecord) -> str:
    return json.dumps(job_dict(record), indent=2, sort_keys=True)
