"""The check before every task: a frozen conductor starts nothing once its claim is gone."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import jobs
from orchestrator.engines import EngineHalted
from orchestrator.jobrun import JobContext, _Guard
from orchestrator.stall import StallDetector
from tests.helpers import wait_for


class Stall:
    """What the guard asks of a StallDetector, answered by the test."""

    def __init__(self) -> None:
        self.stalled = False

    def stalled_since(self, since: float) -> bool:
        return self.stalled


def context(stall: Any, holds: Any) -> JobContext:
    connected = threading.Event()
    connected.set()
    return JobContext(claim=None, spec=jobs.JobSpec(  # type: ignore[arg-type]
        job_id="7d7f2f5e-0000-4000-8000-000000000001", flow_name="f",
        flow_detail_id="7d7f2f5e-0000-4000-8000-000000000002"),
        lost=threading.Event(), connected=connected, stopping=threading.Event(),
        stall=stall, holds=holds)


def test_after_a_stall_a_task_starts_only_if_zookeeper_says_the_lock_is_still_ours() -> None:
    stall, asked = Stall(), []

    def holds() -> bool:
        asked.append(True)
        return True

    guard = _Guard(context(stall, holds), lambda: None)
    assert guard() is None and asked == []  # no stall: no round trip
    stall.stalled = True
    assert guard() is None and asked == [True]


def test_after_a_stall_a_lost_lock_halts_the_engine_before_the_task() -> None:
    stall = Stall()
    stall.stalled = True
    guard = _Guard(context(stall, lambda: False), lambda: pytest.fail("cancel check"))
    with pytest.raises(EngineHalted, match="claim on the job is gone"):
        guard()


def test_a_lock_zookeeper_cannot_confirm_while_the_session_is_lost_halts() -> None:
    def unknown() -> bool:
        raise jobs.BoardUnavailable("no answer")

    stall = Stall()
    stall.stalled = True
    job = context(stall, unknown)
    job.lost.set()
    with pytest.raises(EngineHalted, match="cannot be confirmed"):
        _Guard(job, lambda: None)()


def test_the_detector_reports_a_stall_when_its_ticker_is_late() -> None:
    detector = StallDetector(threshold=0.2, interval=0.05)  # not started: never ticks
    since = time.monotonic()
    wait_for(lambda: detector.stalled_since(since), timeout=5,
             message="the missing ticks to show as a stall")


def test_a_ticking_detector_reports_no_stall() -> None:
    detector = StallDetector(threshold=0.3, interval=0.02).start()
    try:
        since = time.monotonic()
        # Longer than the threshold: only a ticking detector is not late by now.
        wait_for(lambda: time.monotonic() - since > 0.6, timeout=5, message="0.6 s")
        assert not detector.stalled_since(since)
    finally:
        detector.stop()
