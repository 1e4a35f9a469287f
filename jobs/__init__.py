"""Job specs, the job lifecycle (every write to the job tables), and the ZooKeeper jobboard.

Names are imported on first use (PEP 562): a command that only lists jobs
does not pay for TaskFlow or kazoo.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from persistence.lazy import lazy_exports

if TYPE_CHECKING:
    from jobs.board import (
        CONNECTED,
        LOST,
        SUSPENDED,
        Board,
        BoardJob,
        ConductorInfo,
        NotOwner,
        Unclaimable,
        alive_conductors,
        open_jobboard,
    )
    from jobs.errors import (
        BoardUnavailable,
        InvalidJobDetails,
        JobsError,
        PostingFailed,
    )
    from jobs.keys import (
        InvalidKey,
        KeyLimits,
        normalize_keys,
        render_keys,
    )
    from jobs.leader import Leadership
    from jobs.lifecycle import (
        CANCELLED_BEFORE_START,
        ISOLATE_AFTER_LOST,
        Claim,
        ClaimOutcome,
        Finished,
        JobLifecycle,
        NotYet,
        Policy,
        Refused,
    )
    from jobs.retention import (
        Purger,
        PurgeResult,
        RetentionSettings,
        purge,
    )
    from jobs.settings import JobboardSettings
    from jobs.spec import (
        FLOW_META_KEY,
        MAX_POSTING_BYTES,
        PAYLOAD_VERSION,
        JobSpec,
        encode_posting,
        flow_meta,
        flow_name_from_meta,
        posting_size,
    )
    from jobs.zkclient import (
        PollHandler,
        make_client,
    )

#: Each public name and the module that defines it.
_EXPORTS: dict[str, str] = {
    "Board": "jobs.board",
    "BoardJob": "jobs.board",
    "BoardUnavailable": "jobs.errors",
    "CANCELLED_BEFORE_START": "jobs.lifecycle",
    "CONNECTED": "jobs.board",
    "Claim": "jobs.lifecycle",
    "ClaimOutcome": "jobs.lifecycle",
    "ConductorInfo": "jobs.board",
    "FLOW_META_KEY": "jobs.spec",
    "Finished": "jobs.lifecycle",
    "ISOLATE_AFTER_LOST": "jobs.lifecycle",
    "InvalidJobDetails": "jobs.errors",
    "InvalidKey": "jobs.keys",
    "JobLifecycle": "jobs.lifecycle",
    "KeyLimits": "jobs.keys",
    "normalize_keys": "jobs.keys",
    "render_keys": "jobs.keys",
    "JobSpec": "jobs.spec",
    "JobboardSettings": "jobs.settings",
    "JobsError": "jobs.errors",
    "Leadership": "jobs.leader",
    "LOST": "jobs.board",
    "MAX_POSTING_BYTES": "jobs.spec",
    "NotOwner": "jobs.board",
    "NotYet": "jobs.lifecycle",
    "PAYLOAD_VERSION": "jobs.spec",
    "Policy": "jobs.lifecycle",
    "PollHandler": "jobs.zkclient",
    "PostingFailed": "jobs.errors",
    "PurgeResult": "jobs.retention",
    "Purger": "jobs.retention",
    "Refused": "jobs.lifecycle",
    "RetentionSettings": "jobs.retention",
    "SUSPENDED": "jobs.board",
    "Unclaimable": "jobs.board",
    "alive_conductors": "jobs.board",
    "encode_posting": "jobs.spec",
    "flow_meta": "jobs.spec",
    "flow_name_from_meta": "jobs.spec",
    "make_client": "jobs.zkclient",
    "open_jobboard": "jobs.board",
    "posting_size": "jobs.spec",
    "purge": "jobs.retention",
}

__all__ = [
    "InvalidKey",
    "KeyLimits",
    "normalize_keys",
    "render_keys",
    "CANCELLED_BEFORE_START",
    "CONNECTED",
    "ISOLATE_AFTER_LOST",
    "FLOW_META_KEY",
    "LOST",
    "MAX_POSTING_BYTES",
    "PAYLOAD_VERSION",
    "SUSPENDED",
    "Board",
    "BoardJob",
    "BoardUnavailable",
    "Claim",
    "ClaimOutcome",
    "ConductorInfo",
    "Finished",
    "InvalidJobDetails",
    "JobLifecycle",
    "JobSpec",
    "JobboardSettings",
    "JobsError",
    "Leadership",
    "NotOwner",
    "NotYet",
    "Policy",
    "PollHandler",
    "PostingFailed",
    "PurgeResult",
    "Purger",
    "Refused",
    "RetentionSettings",
    "Unclaimable",
    "alive_conductors",
    "encode_posting",
    "flow_meta",
    "flow_name_from_meta",
    "make_client",
    "open_jobboard",
    "posting_size",
    "purge",
]


__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
