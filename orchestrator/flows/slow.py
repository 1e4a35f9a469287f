"""Slow steps with countable side effects, for demos and crash-recovery tests.

Four steps each take ``step_seconds`` and record their execution and revert in
the ledger file ``ledger_path``; the final check fails when ``fail_at_end`` is
true, so every completed step must be reverted, last first. A finished run can
be undone (``orchestrator jobs revert JOB``). ``revert_seconds`` makes each
revert take that long; its line is recorded once the revert is done.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from taskflow import task
from taskflow.patterns import linear_flow

from orchestrator.flows import ledger
from orchestrator.registry import revertible_after_success

LOG = logging.getLogger(__name__)

STEPS = 4


class SlowStep(task.Task):
    def execute(self, ledger_path: str, step_seconds: float = 1.0) -> str:
        ledger.record(ledger_path, "start", self.name)
        # The step's work is simulated by waiting: a resumed run must not redo it.
        time.sleep(float(step_seconds))
        ledger.record(ledger_path, "execute", self.name)
        self.update_progress(1.0)
        return f"{self.name} done"

    def revert(self, ledger_path: str, revert_seconds: float = 0.0,
               **kwargs: Any) -> None:
        time.sleep(float(revert_seconds))  # the revert's work, simulated
        ledger.record(ledger_path, "revert", self.name)


class FinalCheck(task.Task):
    def execute(self, ledger_path: str, fail_at_end: bool = False) -> None:
        ledger.record(ledger_path, "execute", self.name)
        if fail_at_end:
            raise RuntimeError("final check failed (fail_at_end is set)")


@revertible_after_success
def make_flow() -> linear_flow.Flow:
    """Run four slow steps, then a check that can be told to fail."""
    flow = linear_flow.Flow("slow-steps")
    for index in range(1, STEPS + 1):
        flow.add(SlowStep(f"step-{index}"))
    return flow.add(FinalCheck("final-check"))
