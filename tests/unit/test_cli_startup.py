"""`--help` answers without loading what only running a command needs.

Timing lives in bench/cli_startup.py; this holds the reason it is fast, so a
module-level import added to a command cannot slow every `--help` unnoticed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "taskflow", "kazoo", "fastapi", "prometheus_client", "alembic",
         "oslo_config", "rich")

PROBE = """
import sys
from orchestrator.cli.main import cli
try:
    cli.main(args=sys.argv[1:], prog_name="orchestrator")
except SystemExit:
    pass
heavy = {heavy!r}
print("loaded:", " ".join(sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))))
"""


@pytest.mark.parametrize("args", [
    ["--help"], ["jobs", "--help"], ["jobs", "list", "--help"], ["jobs", "explain", "--help"],
    ["post", "--help"], ["db", "purge", "--help"], ["flows", "--help"],
    ["conductors", "--help"], ["commands", "--help"], ["conductor", "--help"],
    ["api", "--help"], ["agent", "--help"], ["standalone", "--help"],
    ["schedules", "--help"], ["schedules", "create", "--help"],
])
def test_help_loads_no_heavy_library(args: list[str]) -> None:
    result = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1] == "loaded:", result.stdout
