"""Job specs, posting, and the ZooKeeper jobboard facade."""

from jobs.board import (
    ConductorInfo,
    JobboardSettings,
    alive_conductors,
    make_client,
    open_jobboard,
)
from jobs.errors import BoardUnavailable, InvalidJobDetails, JobsError, PostingFailed
from jobs.posting import post_job
from jobs.spec import (
    FLOW_META_KEY,
    PAYLOAD_VERSION,
    JobSpec,
    flow_meta,
    flow_name_from_meta,
)

__all__ = [
    "FLOW_META_KEY",
    "PAYLOAD_VERSION",
    "BoardUnavailable",
    "ConductorInfo",
    "InvalidJobDetails",
    "JobSpec",
    "JobboardSettings",
    "JobsError",
    "PostingFailed",
    "alive_conductors",
    "flow_meta",
    "flow_name_from_meta",
    "make_client",
    "open_jobboard",
    "post_job",
]
