"""What every benchmark script shares: progress lines, Ctrl-C, the commit measured."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent


def say(message: str) -> None:
    """Progress goes to stderr, so the figures on stdout can be redirected alone."""
    print(message, file=sys.stderr, flush=True)


def interrupt(_signum: int, _frame: FrameType | None) -> None:
    """SIGINT and SIGTERM handler: unwinds into the clean-up of services and conductors."""
    # A second Ctrl-C must not cut the clean-up the first one started.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def stop_on_signals() -> None:
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)


def git_commit() -> str:
    """The short commit measured, marked when tracked files differ from it."""
    git = ["git", "-C", str(ROOT)]
    try:
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return head + (" (uncommitted changes)" if dirty else "")


def machine(load_before: float, started: float) -> dict[str, str]:
    """The machine, load and commit lines of a report."""
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": f"{len(os.sched_getaffinity(0))} cores, {cpu}",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "load (1 min) before/after": f"{load_before:.2f}/{os.getloadavg()[0]:.2f}",
        "commit": git_commit(),
        "duration": f"{(time.monotonic() - started) / 60:.1f} min",
    }


def leave_work_dir(work_dir: Path, *, keep: bool) -> None:
    """Remove a run's work directory, or say where it was kept (``--keep``)."""
    if keep:
        say(f"work directory kept: {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
