"""Noticing that this process stood still: SIGSTOP, a frozen VM, a long pause.

A conductor frozen past its ZooKeeper session is fenced out of the database,
but the task it was about to start may run before kazoo's thread even learns
that the session is gone. So before a task starts, the conductor asks whether
the process stalled since its claim was last known to hold, and if so checks
the claim with ZooKeeper first. The detector is a thread that ticks: a late
tick, or a tick not yet taken, is the stall.
"""

from __future__ import annotations

import threading
import time


class StallDetector:
    """Ticks every ``interval`` seconds; a gap over ``threshold`` is a stall."""

    def __init__(self, threshold: float, interval: float = 0.05) -> None:
        if interval >= threshold:
            raise ValueError("the tick interval must be shorter than the threshold")
        self._threshold = threshold
        self._interval = interval
        self._lock = threading.Lock()
        self._last_tick = time.monotonic()
        self._last_stall = -float("inf")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name="stall-detector")

    def start(self) -> StallDetector:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def stalled_since(self, since: float) -> bool:
        """Whether the process stood still after ``since`` (a ``time.monotonic()``),
        or may be standing still now (the ticker is late)."""
        now = time.monotonic()
        with self._lock:
            late = now - self._last_tick > self._threshold
            return late or self._last_stall > since

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            now = time.monotonic()
            with self._lock:
                if now - self._last_tick > self._threshold:
                    self._last_stall = now
                self._last_tick = now
