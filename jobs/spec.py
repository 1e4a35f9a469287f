"""The job payload as posted on the jobboard.

The payload is persisted (in ZooKeeper, then read by conductors of possibly a
later release), so it is versioned public API. ``from_details`` refuses
anything that is not a well-formed payload of a known version: a conductor
never acts on a job it does not understand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jobs.errors import InvalidJobDetails

PAYLOAD_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

#: Key under ``FlowDetail.meta`` recording which registered flow a detail runs.
FLOW_META_KEY = "orchestrator"

#: The largest posting (the job node's data) this release writes. ZooKeeper
#: refuses a request over ``jute.maxbuffer`` (1 MiB by default) and drops the
#: connection that sent it; the margin leaves room for the path and the rest
#: of the create request.
MAX_POSTING_BYTES = 1_000_000


@dataclass(frozen=True)
class JobSpec:
    job_id: str
    flow_name: str
    flow_detail_id: str
    store: Mapping[str, Any] = field(default_factory=dict)

    def to_details(self) -> dict[str, Any]:
        return {
            "version": PAYLOAD_VERSION,
            "job_id": self.job_id,
            "flow": self.flow_name,
            # TaskFlow's conductor reads the flow detail to run from 'flow_uuid'.
            "flow_uuid": self.flow_detail_id,
            "store": dict(self.store),
        }

    @classmethod
    def from_details(cls, details: Mapping[str, Any] | None) -> JobSpec:
        if not isinstance(details, Mapping):
            raise InvalidJobDetails("job has no details")
        version = details.get("version")
        if version not in SUPPORTED_VERSIONS:
            raise InvalidJobDetails(f"unsupported job payload version {version!r}")
        job_id, flow, flow_uuid = (
            details.get("job_id"), details.get("flow"), details.get("flow_uuid"),
        )
        for key, value in (("job_id", job_id), ("flow_uuid", flow_uuid)):
            if not isinstance(value, str) or not _UUID_RE.match(value):
                raise InvalidJobDetails(f"job detail {key!r} is not a UUID: {value!r}")
        if not isinstance(flow, str) or not flow:
            raise InvalidJobDetails("job names no flow")
        store = details.get("store", {})
        if not isinstance(store, Mapping):
            raise InvalidJobDetails("job store is not a mapping")
        assert isinstance(job_id, str) and isinstance(flow_uuid, str)
        return cls(job_id=job_id, flow_name=flow, flow_detail_id=flow_uuid,
                   store=dict(store))


def flow_meta(flow_name: str) -> dict[str, Any]:
    """What a flow detail records about its flow (never a factory import path)."""
    return {FLOW_META_KEY: {"flow": flow_name, "version": PAYLOAD_VERSION}}


def flow_name_from_meta(meta: Mapping[str, Any] | None) -> str | None:
    entry = (meta or {}).get(FLOW_META_KEY)
    if isinstance(entry, Mapping) and isinstance(entry.get("flow"), str):
        return str(entry["flow"])
    return None


def encode_posting(*, uuid: str, name: str, details: Mapping[str, Any], book_uuid: str,
                   book_name: str, priority: str) -> bytes:
    """A job node's data, in the layout TaskFlow's ZooKeeper jobboard reads.

    Raises ``ValueError`` for what JSON or UTF-8 cannot hold (NaN, a lone
    surrogate...).
    """
    posting = {
        "uuid": uuid,
        "name": name,
        "priority": priority,
        "details": dict(details),
        "book": {"name": book_name, "uuid": book_uuid},
    }
    text = json.dumps(posting, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"the job cannot be encoded as UTF-8: {exc.reason}") from exc


def posting_size(spec: JobSpec, *, name: str, priority: str = "NORMAL") -> int:
    """Bytes the posting of ``spec`` takes on the jobboard (ids are fixed-size)."""
    placeholder = "00000000-0000-0000-0000-000000000000"
    return len(encode_posting(uuid=placeholder, name=name, details=spec.to_details(),
                              book_uuid=placeholder, book_name=f"job-{placeholder}",
                              priority=priority))
