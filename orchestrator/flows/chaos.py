"""Five steps with countable side effects, one of which can crash its conductor.

The flow behind the chaos suite and ``bench/chaos.py``: each step records its
start and its execution (and any revert) in the ledger file ``ledger_path``,
tagged with ``job_key``, so the ledger tells exactly which side effects
happened, where and how often. With ``crash_at`` naming a step, that step kills
the process running it, as a crashing driver or the OOM killer would: the job
that cannot succeed, which conductors must quarantine rather than retry forever.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from taskflow import task
from taskflow.patterns import linear_flow

from orchestrator.flows import ledger

STEPS = 5


class ChaosStep(task.Task):
    def execute(self, ledger_path: str, job_key: str, step_seconds: float = 0.2,
                crash_at: str | None = None) -> str:
        ledger.record(ledger_path, "start", self.name, job_key)
        if crash_at == self.name:
            os.kill(os.getpid(), signal.SIGKILL)
        # The step's work is simulated by waiting: a resumed run must not redo it.
        time.sleep(float(step_seconds))
        ledger.record(ledger_path, "execute", self.name, job_key)
        return f"{self.name} done"

    def revert(self, ledger_path: str, job_key: str, **kwargs: Any) -> None:
        ledger.record(ledger_path, "revert", self.name, job_key)


def make_flow() -> linear_flow.Flow:
    """Five steps recording their side effects; ``crash_at`` kills the conductor."""
    flow = linear_flow.Flow("chaos-steps")
    return flow.add(*(ChaosStep(f"step-{index}") for index in range(1, STEPS + 1)))
