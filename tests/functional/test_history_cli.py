"""``orchestrator jobs list/show/watch`` on a job a real conductor ran."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from tests.functional.conftest import Deployment

pytestmark = pytest.mark.functional

PHONES = {"jim_number": "111111", "joe_number": "222222", "jmilkfan_number": "333333"}
CALLS = ["call-jim", "call-joe", "call-jmilkfan"]


def _when(value: str | None) -> datetime:
    assert value is not None
    when = datetime.fromisoformat(value)
    assert when.utcoffset() is not None and when.utcoffset().total_seconds() == 0
    return when


def test_what_happened_to_a_reverted_job(deployment: Deployment) -> None:
    deployment.start_conductor("c1")
    posted = deployment.run("post", "phone-calls", "--store-json", json.dumps(PHONES),
                            "--wait", "--timeout", "90")
    assert posted.returncode == 1, posted.stderr
    job_id, final = posted.stdout.split()
    assert final == "REVERTED"
    # Progress went to stderr as plain lines (not a terminal).
    # (Which intermediate states show depends on timing; the last ones always do.)
    assert ("call-jmilkfan: REVERTED (failed: ValueError: JmilkFan's line 333333 "
            "is out of service)") in posted.stderr
    assert "executed 2/3, failed call-jmilkfan, reverted 3/3" in posted.stderr

    # The start of its id is enough, as long as no other job's id starts so.
    shown = deployment.run("jobs", "show", job_id[:8], "--json", "--traceback")
    assert shown.returncode == 0, shown.stderr
    job = json.loads(shown.stdout)
    assert job["id"] == job_id and job["state"] == "REVERTED"
    assert job["flow"] == "phone-calls" and job["store"] == PHONES
    assert job["attempts"] == 1 and job["owner"] is None
    assert job["duration"] > 0
    tasks = job["tasks"]
    assert [t["name"] for t in tasks] == CALLS
    assert {t["state"] for t in tasks} == {"REVERTED"}
    jim, joe, jmilkfan = tasks
    assert jim["result"] == {"jim_new_number": "111111new"}
    assert jim["failure"] is None and jmilkfan["result"] is None
    failure = jmilkfan["failure"]
    assert failure["type"] == "ValueError"
    assert failure["message"] == "JmilkFan's line 333333 is out of service"
    assert failure["traceback"].startswith("Traceback (most recent call last):")
    assert "phone_calls.py" in failure["traceback"]
    for task in tasks:
        assert (_when(task["execute_started_at"]) <= _when(task["execute_finished_at"])
                <= _when(task["revert_started_at"]) <= _when(task["revert_finished_at"]))
    assert _when(jim["execute_finished_at"]) <= _when(joe["execute_started_at"])
    # Reverted in reverse order: Joe's revert ended before Jim's began.
    assert _when(joe["revert_finished_at"]) <= _when(jim["revert_started_at"])

    table = deployment.run("jobs", "show", job_id)
    assert table.returncode == 0, table.stderr
    for name in CALLS:
        assert name in table.stdout
    assert "REVERTED" in table.stdout and "ValueError" in table.stdout

    reverted = deployment.run("jobs", "list", "--state", "REVERTED", "--json")
    assert reverted.returncode == 0, reverted.stderr
    assert [j["id"] for j in json.loads(reverted.stdout)] == [job_id]
    succeeded = deployment.run("jobs", "list", "--state", "success", "--since", "1h",
                               "--json")
    assert succeeded.returncode == 0, succeeded.stderr
    assert json.loads(succeeded.stdout) == []

    watched = deployment.run("jobs", "watch", job_id)
    assert watched.returncode == 1
    assert watched.stdout.strip() == "REVERTED"

    for command in ("show", "watch"):
        unknown = deployment.run("jobs", command, "no-such-job")
        assert unknown.returncode == 2
        assert "no job with id 'no-such-job'" in unknown.stderr
