"""Undoing a finished run: a SUCCESS job reverted on request, last task first,
from the CLI and the API, with real conductors, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

import persistence
from orchestrator.flows import ledger
from tests.functional.conftest import Deployment, job_row, kill9
from tests.helpers import wait_for

pytestmark = pytest.mark.functional

STEPS = ["step-1", "step-2", "step-3", "step-4"]


def test_a_finished_run_is_undone_last_step_first_and_says_who_asked(
        deployment: Deployment, tmp_path: Path) -> None:
    dep = deployment
    path = tmp_path / "ledger"
    job_id = dep.post("slow-steps", {"ledger_path": str(path), "step_seconds": 0})
    dep.start_conductor("undo-c1")
    dep.wait_state(job_id, "SUCCESS")
    assert ledger.tasks_with(path, "revert") == []

    flows = json.loads(dep.run("flows", "--json").stdout)
    assert {f["name"]: f["revertible_after_success"] for f in flows}["slow-steps"] is True

    result = dep.run("jobs", "revert", job_id[:8], "--by", "carol", "--wait",
                     "--timeout", "90")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [job_id, "REVERTED"]
    assert f"jobs watch {job_id}" in result.stderr

    # Nothing executed again; every step reverted once, last first.
    assert ledger.tasks_with(path, "execute") == [*STEPS, "final-check"]
    assert ledger.tasks_with(path, "revert") == list(reversed(STEPS))
    shown = json.loads(dep.run("jobs", "show", job_id, "--json").stdout)
    assert shown["state"] == "REVERTED"
    assert shown["last_error"] == "undone at the request of carol"
    assert {t["name"]: t["state"] for t in shown["tasks"]} == {
        **{step: "REVERTED" for step in STEPS}, "final-check": "REVERTED"}
    # The undo is an attempt of its own, after the run's.
    assert [a["job_state"] for a in shown["attempt_history"]] == ["SUCCESS", "REVERTED"]
    assert [a["outcome"] for a in shown["attempt_history"]] == ["finished", "finished"]

    # Undone once: asking again is refused, and changes nothing.
    again = dep.run("jobs", "revert", job_id)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert f"job {job_id} cannot be undone: it is REVERTED, not SUCCESS" in again.stderr
    assert ledger.tasks_with(path, "revert") == list(reversed(STEPS))


def test_only_a_success_of_a_flow_revertible_after_success_is_undone(
        deployment: Deployment, tmp_path: Path) -> None:
    dep = deployment
    path = tmp_path / "ledger"
    calls = dep.post("provision-parallel", {"node_name": "n1"})
    reverted = dep.post("slow-steps", {"ledger_path": str(path), "step_seconds": 0,
                                        "fail_at_end": True})
    succeeded = dep.post("slow-steps", {"ledger_path": str(path), "step_seconds": 0})
    # Not finished yet (no conductor): refused.
    early = dep.run("jobs", "revert", succeeded)
    assert early.returncode == 2 and "it is POSTED, not SUCCESS" in early.stderr
    dep.start_conductor("undo-c2")
    for job_id, state in ((calls, "SUCCESS"), (reverted, "REVERTED"),
                          (succeeded, "SUCCESS")):
        dep.wait_state(job_id, state)

    api = dep.start_api()
    refused = httpx.post(f"{api}/v1/jobs/{calls}/revert", json={"requested_by": "dan"})
    assert refused.status_code == 409, refused.text
    assert "flow 'provision-parallel' does not declare itself revertible after success" in \
        refused.json()["error"]["message"]
    assert httpx.get(f"{api}/v1/jobs/{calls}").json()["undoable"] is False
    not_success = httpx.post(f"{api}/v1/jobs/{reverted}/revert")
    assert not_success.status_code == 409
    assert "it is REVERTED, not SUCCESS" in not_success.json()["error"]["message"]
    assert httpx.post(f"{api}/v1/jobs/no-such-job/revert").status_code == 404
    bad = httpx.post(f"{api}/v1/jobs/{succeeded}/revert", json={"by": "x"})
    assert bad.status_code == 422 and "error" in bad.json()
    assert job_row(dep.db_url, calls)["state"] == "SUCCESS"

    assert httpx.get(f"{api}/v1/jobs/{succeeded}").json()["undoable"] is True
    accepted = httpx.post(f"{api}/v1/jobs/{succeeded}/revert", json={"requested_by": "dan"})
    assert accepted.status_code == 202, accepted.text
    assert (accepted.json()["id"], accepted.json()["state"]) == (succeeded, "POSTED")
    assert httpx.get(f"{api}/v1/jobs/{succeeded}").json()["undoable"] is False
    dep.wait_state(succeeded, "REVERTED")
    assert job_row(dep.db_url, succeeded)["error"] == "undone at the request of dan"


def task_states(dep: Deployment, job_id: str) -> dict[str, str]:
    """The job's tasks and their states, as stored."""
    db = persistence.Database(dep.db_url)
    try:
        with db.session() as session:
            record = persistence.get_job(session, job_id)
        assert record is not None
        return {t.name: t.state for t in persistence.job_tasks(db, record.flow_detail_id)}
    finally:
        db.close()


def test_an_undo_survives_its_conductor_killed(
        deployment: Deployment, tmp_path: Path) -> None:
    dep = deployment
    path = tmp_path / "ledger"
    job_id = dep.post("slow-steps", {"ledger_path": str(path), "step_seconds": 0,
                                     "revert_seconds": 2})
    first = dep.start_conductor("undo-k1")
    dep.wait_state(job_id, "SUCCESS")
    result = dep.run("jobs", "revert", job_id)
    assert result.returncode == 0, result.stderr
    # Killed while step-3 reverts (2 s), once step-4's revert is stored.
    wait_for(lambda: task_states(dep, job_id).get("step-3") == "REVERTING", timeout=60,
             message="the undo to be reverting step-3")
    assert task_states(dep, job_id)["step-4"] == "REVERTED"
    kill9(first)
    dep.start_conductor("undo-k2")
    dep.wait_state(job_id, "REVERTED")
    # No step executed again; the reverts stored before the kill did not run
    # again; the one cut short ran again (once more at most), then the rest.
    assert ledger.tasks_with(path, "execute") == [*STEPS, "final-check"]
    reverts = ledger.tasks_with(path, "revert")
    assert reverts[0] == "step-4" and reverts.count("step-4") == 1
    assert 1 <= reverts.count("step-3") <= 2
    assert reverts[-2:] == ["step-2", "step-1"] and len(reverts) <= 5
    shown = json.loads(dep.run("jobs", "show", job_id, "--json").stdout)
    assert shown["last_error"].startswith("undone at the request of ")
    outcomes = [a["outcome"] for a in shown["attempt_history"]]
    assert outcomes[0] == "finished" and outcomes[-1] == "finished"
    assert "conductor_lost" in outcomes
