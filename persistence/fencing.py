"""The fence a claim puts around every write made for its job.

A claim's own UPDATE increments ``orchestrator_jobs.claim_epoch`` and returns
the new value. Every later write for the job carries that value as a condition
inside the same statement or transaction, so once a newer claim exists the
database refuses the write of the older one (``ClaimLost``), whatever the older
owner believes about its ZooKeeper session.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fence:
    """The job and claim epoch a writer acts for.

    ``abort`` is set by the owner of the claim when waiting for the database
    is no longer worth it (the conductor is stopping, or the claim is known to
    be lost): a write retrying through an outage then gives up with
    ``StorageUnavailable`` instead of waiting on.
    """

    job_id: str
    epoch: int
    abort: threading.Event = field(default_factory=threading.Event, compare=False)

    def keep_waiting(self, delay: float) -> bool:
        """Wait up to ``delay`` seconds; False once waiting should stop."""
        return not self.abort.wait(delay)
