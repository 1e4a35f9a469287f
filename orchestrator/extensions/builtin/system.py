"""``system.get_facts``: what a flow needs to know about the host it runs on.

Read from the standard library and /proc only (no extra dependency); a fact this
platform cannot give is ``None`` rather than an error.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from orchestrator.extensions import base
from orchestrator.extensions.builtin.params import check_absolute_path, check_names
from orchestrator.extensions.errors import InvalidCommandParamsError

_PROC_MEMINFO = Path("/proc/meminfo")
_PROC_UPTIME = Path("/proc/uptime")


def _validate_get_facts(ext: base.BaseAgentExtension, **params: Any) -> None:
    check_names(params, ["path"])
    if "path" in params:
        path = check_absolute_path("path", params["path"])
        if not os.path.exists(path):
            raise InvalidCommandParamsError(f"path {path!r} does not exist")


def _memory() -> dict[str, int | None]:
    total: int | None = None
    available: int | None = None
    try:
        for line in _PROC_MEMINFO.read_text().splitlines():
            key, _, rest = line.partition(":")
            fields = rest.split()
            if key in ("MemTotal", "MemAvailable") and fields:
                value = int(fields[0]) * 1024  # /proc/meminfo counts in kB
                if key == "MemTotal":
                    total = value
                else:
                    available = value
    except (OSError, ValueError):
        pass
    if total is None:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            total = None
    return {"total_bytes": total, "available_bytes": available}


def _load_average() -> list[float] | None:
    try:
        return list(os.getloadavg())
    except (OSError, AttributeError):
        return None


def _uptime_seconds() -> float | None:
    try:
        return float(_PROC_UPTIME.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _usable_cpus() -> int | None:
    # The CPUs this process may run on (cgroups/affinity), which can be fewer than
    # os.cpu_count(); not available on every platform.
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return None


class SystemExtension(base.BaseAgentExtension):
    """Facts about the host: name, CPUs, memory, load, disk, Python and OS."""

    @base.sync_command("get_facts", validator=_validate_get_facts)
    def get_facts(self, path: str = "/") -> dict[str, Any]:
        """Host facts; ``path`` selects the file system whose usage is reported."""
        usage = shutil.disk_usage(path)
        return {
            "hostname": socket.gethostname(),
            "cpu_count": os.cpu_count(),
            "usable_cpu_count": _usable_cpus(),
            "memory": _memory(),
            "load_average": _load_average(),
            "uptime_seconds": _uptime_seconds(),
            "disk": {
                "path": path,
                "total_bytes": usage.total,
                "used_bytes": usage.used,
                "free_bytes": usage.free,
            },
            "python": {
                "version": platform.python_version(),
                "implementation": platform.python_implementation(),
                "executable": sys.executable,
            },
            "os": {
                "system": platform.system(),
                "release": platform.release(),
                "machine": platform.machine(),
                "platform": platform.platform(),
            },
        }
