"""Small helpers shared by the test tiers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    message: str = "condition",
) -> T:
    """Call ``predicate`` until it returns something truthy; return that value.

    Raises ``AssertionError`` naming ``message`` once ``timeout`` seconds have passed.
    The predicate is called at least once, however small ``timeout`` is.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:g}s waiting for {message} "
                f"(last value: {result!r})"
            )
        time.sleep(interval)  # the poll interval, never a guess at how long to wait
