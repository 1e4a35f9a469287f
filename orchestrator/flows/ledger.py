"""An append-only record of task side effects, for demos and crash tests.

Each line is ``<action> <task> <pid>``, or ``<action> <task> <pid> <job> <time>``
when the task names its job. Lines are written with O_APPEND and fsynced, so a
process killed with SIGKILL leaves only whole lines behind and a reader can
count exactly which executions and reverts happened, by whom and when.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def record(path: str | os.PathLike[str] | None, action: str, task: str,
           job: str | None = None) -> None:
    if not path:
        return
    fields = [action, task, str(os.getpid())]
    if job is not None:
        fields += [job, f"{time.time():.6f}"]
    line = (" ".join(fields) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read(path: str | os.PathLike[str]) -> list[tuple[str, str, int]]:
    """Return the recorded ``(action, task, pid)`` entries, oldest first."""
    p = Path(path)
    if not p.exists():
        return []
    entries = []
    for line in p.read_text().splitlines():
        action, task, pid = line.split(" ")[:3]
        entries.append((action, task, int(pid)))
    return entries


def tasks_with(path: str | os.PathLike[str], action: str) -> list[str]:
    """The tasks recorded with ``action`` (``execute``, ``revert``...), oldest first."""
    return [task for done, task, _pid in read(path) if done == action]
