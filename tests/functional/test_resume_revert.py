"""Resuming a failed revert, once its cause is fixed: the same job goes on, from
the CLI and the API, with real conductors, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from orchestrator.flows import ledger
from tests.functional.conftest import Deployment, job_row, kill9
from tests.helpers import wait_for

pytestmark = pytest.mark.functional

STEPS = ["step-1", "step-2", "step-3"]


def test_a_failed_revert_resumes_once_fixed_and_the_job_ends_reverted(
        deployment: Deployment, tmp_path: Path) -> None:
    dep = deployment
    path, blocker = tmp_path / "ledger", tmp_path / "blocker"
    blocker.touch()
    job_id = dep.post("revert-fails-until",
                  {"ledger_path": str(path), "blocker_path": str(blocker)})
    dep.start_conductor("rr-c1")
    dep.wait_state(job_id, "FAILED")
    assert ledger.tasks_with(path, "revert") == ["step-3"]
    assert ledger.tasks_with(path, "revert-failed") == ["step-2"]

    # Not the job's cause fixed yet: the revert fails again, and says so.
    api = dep.start_api()
    resumed = httpx.post(f"{api}/v1/jobs/{job_id}/retry", json={"resume_revert": True})
    assert resumed.status_code == 202, resumed.text
    assert (resumed.json()["id"], resumed.json()["state"]) == (job_id, "POSTED")
    dep.wait_state(job_id, "FAILED")
    assert ledger.tasks_with(path, "revert-failed") == ["step-2", "step-2"]

    blocker.unlink()
    result = dep.run("jobs", "retry", job_id[:8], "--resume-revert", "--by", "bob",
                     "--wait", "--timeout", "90")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [job_id, "REVERTED"]
    assert f"jobs watch {job_id}" in result.stderr

    # Each step executed once; the reverts left ran once each, last first.
    assert ledger.tasks_with(path, "execute") == [*STEPS, "final-check"]
    assert ledger.tasks_with(path, "revert") == ["step-3", "step-2", "step-1"]
    shown = json.loads(dep.run("jobs", "show", job_id, "--json").stdout)
    assert {t["name"]: t["state"] for t in shown["tasks"]} == {
        **{step: "REVERTED" for step in STEPS}, "final-check": "REVERTED"}
    assert [a["job_state"] for a in shown["attempt_history"]] == [
        "FAILED", "FAILED", "REVERTED"]
    assert shown["retried_by"] == []


def test_only_a_job_whose_revert_failed_can_have_it_resumed(
        deployment: Deployment, tmp_path: Path) -> None:
    dep = deployment
    path = tmp_path / "ledger"
    succeeded = dep.post("slow-steps", {"ledger_path": str(path), "step_seconds": 0})
    reverted = dep.post("slow-steps", {"ledger_path": str(path), "step_seconds": 0,
                                        "fail_at_end": True})
    result = dep.run("jobs", "retry", succeeded, "--resume-revert")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "not FAILED" in result.stderr
    dep.start_conductor("rr-c2")
    dep.wait_state(succeeded, "SUCCESS")
    dep.wait_state(reverted, "REVERTED")

    result = dep.run("jobs", "retry", succeeded, "--resume-revert")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"job {succeeded} has no failed revert to resume" in result.stderr
    api = dep.start_api()
    refused = httpx.post(f"{api}/v1/jobs/{reverted}/retry", json={"resume_revert": True})
    assert refused.status_code == 409, refused.text
    assert "no failed revert to resume" in refused.json()["error"]["message"]
    assert job_row(dep.db_url, reverted)["state"] == "REVERTED"
    missing = httpx.post(f"{api}/v1/jobs/no-such-job/retry", json={"resume_revert": True})
    assert missing.status_code == 404
    # Without the flag, retry still posts a new job.
    retried = httpx.post(f"{api}/v1/jobs/{succeeded}/retry")
    assert retried.status_code == 201 and retried.json()["id"] != succeeded


def test_a_resumed_revert_survives_its_conductor_killed(
        deployment: Deployment, tmp_path: Path) -> None:
    dep = deployment
    path, blocker = tmp_path / "ledger", tmp_path / "blocker"
    blocker.touch()
    job_id = dep.post("revert-fails-until", {
        "ledger_path": str(path), "blocker_path": str(blocker), "revert_seconds": 2})
    first = dep.start_conductor("rr-k1")
    dep.wait_state(job_id, "FAILED")
    blocker.unlink()
    result = dep.run("jobs", "retry", job_id, "--resume-revert")
    assert result.returncode == 0, result.stderr
    # Killed while reverting step-1, after step-2's revert is stored.
    wait_for(lambda: ledger.tasks_with(path, "revert-start")[-1:] == ["step-1"], timeout=60,
             message="the resumed revert to reach step-1")
    kill9(first)
    dep.start_conductor("rr-k2")
    dep.wait_state(job_id, "REVERTED")
    assert ledger.tasks_with(path, "execute") == [*STEPS, "final-check"]
    assert ledger.tasks_with(path, "revert") == ["step-3", "step-2", "step-1"]
    assert ledger.tasks_with(path, "revert-start").count("step-1") == 2
