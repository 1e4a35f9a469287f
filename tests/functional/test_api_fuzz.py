"""No request the API's own OpenAPI document describes gets a 5xx.

Schemathesis generates requests for every operation, valid ones and invalid
ones (wrong types, missing fields, NUL and odd Unicode in strings, odd
headers), and sends them to a real ``orchestrator api`` process over ZooKeeper
and each database. No conductor runs: a job that happens to be valid stays
posted and never executes. The examples are bounded and deterministic, so a
run takes seconds and CI sends the same requests every time.

Schemathesis runs through its command line: its pytest plugin does not work
with the pytest this project uses (``Function`` lost ``_nodeid`` in pytest 9).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional.conftest import Deployment

pytestmark = pytest.mark.functional

TOKEN = "fuzz-token"
MAX_EXAMPLES = 25  # per operation and phase; about 450 requests in all


def test_no_generated_request_gets_a_server_error(deployment: Deployment,
                                                  tmp_path: Path) -> None:
    url = deployment.start_api(TOKEN)
    result = subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/v1/openapi.json",
         "--checks", "not_a_server_error",
         "--header", f"Authorization: Bearer {TOKEN}",
         "--max-examples", str(MAX_EXAMPLES), "--generation-deterministic",
         "--workers", "1", "--request-timeout", "30", "--no-color",
         # Warnings say a route mostly met unknown ids (404s): what is checked
         # here is that nothing answers 5xx, and a warning would only make the
         # summary read differently from one run to the next.
         "--warnings", "off"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    # The summary and every failure with a curl command to reproduce it.
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
    assert "No issues found" in result.stdout, result.stdout[-5000:]
