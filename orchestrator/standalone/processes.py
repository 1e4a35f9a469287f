"""Starting child processes that must never be left behind."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold back a Ctrl-C (or SIGTERM) until the block is over.

    A KeyboardInterrupt raised inside ``subprocess.Popen``, after the fork but
    before the caller has stored the handle, leaves a child that nothing will
    stop: ZooKeeper, in its own session, would outlive the Ctrl-C that was
    meant to stop everything. Signals received meanwhile are replayed to the
    handlers that were in place, once the handle is stored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def _hold(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)

    previous = {sig: signal.signal(sig, _hold) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)
