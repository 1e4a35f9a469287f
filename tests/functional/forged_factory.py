"""A factory a forged job names. Calling it leaves a marker file: proof of execution."""

from __future__ import annotations

import os
from pathlib import Path

from taskflow.patterns import linear_flow

MARKER_ENV = "ORCHESTRATOR_TEST_FORGED_MARKER"


def make_flow() -> linear_flow.Flow:
    Path(os.environ[MARKER_ENV]).write_text(f"called in pid {os.getpid()}\n")
    return linear_flow.Flow("forged")
