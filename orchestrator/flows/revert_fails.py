"""A flow whose revert fails until an outside cause is fixed, for resuming reverts.

Three steps record their execute and revert in the ledger file
``ledger_path``; the final check always fails, so the steps are reverted,
last first. Step 2's revert fails while the file ``blocker_path`` exists (a
stand-in for a resource that cannot be released yet); the job then ends
FAILED with step 1 not reverted. Once the file is removed, the operator
resumes the revert (``orchestrator jobs retry JOB --resume-revert``) and the
job ends REVERTED. ``revert_seconds`` makes each revert take that long.
"""

from __future__ import annotations

import os
import time
from typing import Any

from taskflow import task
from taskflow.patterns import linear_flow

from orchestrator.flows import ledger

STEPS = 3
BLOCKED_STEP = "step-2"


class RevertibleStep(task.Task):
    def execute(self, ledger_path: str) -> str:
        ledger.record(ledger_path, "execute", self.name)
        return f"{self.name} done"

    def revert(self, ledger_path: str, blocker_path: str, revert_seconds: float = 0.0,
               **kwargs: Any) -> None:
        ledger.record(ledger_path, "revert-start", self.name)
        # The revert's work is simulated by waiting.
        time.sleep(float(revert_seconds))
        if self.name == BLOCKED_STEP and os.path.exists(blocker_path):
            ledger.record(ledger_path, "revert-failed", self.name)
            raise RuntimeError(f"cannot undo {self.name} while {blocker_path} exists")
        ledger.record(ledger_path, "revert", self.name)


class AlwaysFails(task.Task):
    def execute(self, ledger_path: str) -> None:
        ledger.record(ledger_path, "execute", self.name)
        raise RuntimeError("final check failed (it always does)")


def make_flow() -> linear_flow.Flow:
    """Three steps whose middle revert fails while ``blocker_path`` exists, then a
    check that fails."""
    flow = linear_flow.Flow("revert-fails-until")
    for index in range(1, STEPS + 1):
        flow.add(RevertibleStep(f"step-{index}"))
    return flow.add(AlwaysFails("final-check"))
